package deploy_test

import (
	"bufio"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
)

// dockerfileInstructions returns the instructions of the Dockerfile's last stage, by keyword.
func dockerfileInstructions(t *testing.T) map[string][]string {
	t.Helper()
	f, err := os.Open("Dockerfile")
	require.NoError(t, err)
	defer f.Close()
	stage := map[string][]string{}
	s := bufio.NewScanner(f)
	for s.Scan() {
		line := strings.TrimSpace(s.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		keyword, args, _ := strings.Cut(line, " ")
		if keyword == "FROM" {
			stage = map[string][]string{}
		}
		stage[keyword] = append(stage[keyword], args)
	}
	require.NoError(t, s.Err())
	return stage
}

func TestDockerfileFinalStage(t *testing.T) {
	final := dockerfileInstructions(t)
	ds := decodeStrict[appsv1.DaemonSet](t, "base/daemonset.yaml")

	assert.Equal(t, []string{"gcr.io/distroless/static:nonroot"}, final["FROM"])
	uid := ds.Spec.Template.Spec.SecurityContext.RunAsUser
	assert.Equal(t, ptr(int64(collectorUID)), uid)
	assert.Equal(t, []string{"17117:17117"}, final["USER"], "non-root by default, the collector's own uid and gid")
	assert.Equal(t, []string{`["/` + helmValues(t).Command.Name + `"]`}, final["ENTRYPOINT"], "the chart runs /<command.name>")
	assert.Equal(t, []string{"--from=collector /src/_build/otelcol-cgroupmem /otelcol-cgroupmem"}, final["COPY"])
	assert.Equal(t, []string{`["` + ds.Spec.Template.Spec.Containers[0].Args[0] + `"]`}, final["CMD"])
}
