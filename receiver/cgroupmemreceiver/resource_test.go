package cgroupmemreceiver

import (
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"

	"github.com/cgroupmem/cgroupmem/internal/cgroupfs"
	"github.com/cgroupmem/cgroupmem/internal/k8smeta"
)

func TestResourceCache(t *testing.T) {
	var rc resourceCache
	builds := 0
	build := func(name string) func() pcommon.Resource {
		return func() pcommon.Resource {
			builds++
			r := pcommon.NewResource()
			r.Attributes().PutStr("k8s.pod.name", name)
			return r
		}
	}
	a := resourceKey{c: cgroupfs.Container{ID: "a", Path: "/kubepods/pod1/a"}}
	b := resourceKey{c: cgroupfs.Container{ID: "b", Path: "/kubepods/pod1/b"}}

	rc.get(a.c.Path, a, build(""))
	rc.get(b.c.Path, b, build(""))
	rc.endScrape()
	require.Equal(t, 2, builds)

	got := rc.get(a.c.Path, a, build(""))
	require.Equal(t, 2, builds, "an unchanged key reuses the resource")
	v, _ := got.Attributes().Get("k8s.pod.name")
	require.Empty(t, v.Str())

	named := a
	named.n = containerNames{pod: k8smeta.PodInfo{Name: "web-0", Namespace: "shop"}, known: true, included: true}
	got = rc.get(a.c.Path, named, build("web-0"))
	require.Equal(t, 3, builds, "names from the kubelet rebuild it")
	v, _ = got.Attributes().Get("k8s.pod.name")
	require.Equal(t, "web-0", v.Str())
	rc.endScrape() // b was not used: its container is gone
	require.Len(t, rc.byPath, 1)
	require.Contains(t, rc.byPath, a.c.Path)

	rc.get(a.c.Path, named, build("web-0"))
	rc.endScrape()
	require.Equal(t, 3, builds)
	require.Len(t, rc.byPath, 1, "nothing to drop when every entry was used")
}
