package main

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestParseStatCPU(t *testing.T) {
	tests := []struct {
		name    string
		input   string
		want    time.Duration
		wantErr string
	}{
		{
			name:  "utime and stime",
			input: "1234 (otelcol-cgroupm) S 1 1234 1234 0 -1 4194560 5123 0 0 0 312 87 0 0 20 0 12 0 100 0 0\n",
			want:  399 * clockTick,
		},
		{
			name:  "name with spaces and parentheses",
			input: "7 (a (b) c) R 1 7 7 0 -1 0 0 0 0 0 5 6 0 0 20 0 1 0 1 0 0\n",
			want:  11 * clockTick,
		},
		{name: "no command", input: "1234 S 1", wantErr: `no ")"`},
		{name: "short", input: "1 (x) S 1 2 3", wantErr: "want 13 or more"},
		{name: "not a number", input: "1 (x) S 1 1 1 0 -1 0 0 0 0 0 x 6 0\n", wantErr: `utime or stime "x"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseStatCPU([]byte(tt.input))
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

func TestParseStatus(t *testing.T) {
	tests := []struct {
		name    string
		input   string
		want    status
		wantErr string
	}{
		{
			name:  "status",
			input: "Name:\totelcol\nVmPeak:\t 1900000 kB\nVmHWM:\t   48212 kB\nVmRSS:\t   46100 kB\nThreads:\t12\n",
			want:  status{rss: 46100 * 1024, hwm: 48212 * 1024},
		},
		{name: "kernel thread", input: "Name:\tkthreadd\nThreads:\t1\n", wantErr: "no VmRSS or VmHWM"},
		{name: "bad unit", input: "VmHWM:\t1 MB\nVmRSS:\t1 kB\n", wantErr: `line "VmHWM:\t1 MB"`},
		{name: "bad number", input: "VmHWM:\tx kB\nVmRSS:\t1 kB\n", wantErr: "invalid syntax"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseStatus([]byte(tt.input))
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

func TestParseLogLine(t *testing.T) {
	at := time.Unix(1, 0)
	tests := []struct {
		name   string
		input  string
		want   export
		wantOK bool
	}{
		{
			name:   "debug exporter",
			input:  `{"level":"info","msg":"Metrics","otelcol.component.id":"debug","resource metrics":1501,"metrics":22004,"data points":22004}`,
			want:   export{at: at, resources: 1501, points: 22004},
			wantOK: true,
		},
		{
			name:   "warning",
			input:  `{"level":"warn","msg":"More cgroup files than max_open_files"}`,
			want:   export{at: at, problem: "warn: More cgroup files than max_open_files"},
			wantOK: true,
		},
		{
			name:   "error with its error",
			input:  `{"level":"error","msg":"Error scraping metrics","error":"boom"}`,
			want:   export{at: at, problem: "error: Error scraping metrics: boom"},
			wantOK: true,
		},
		{name: "other info", input: `{"level":"info","msg":"Everything is ready."}`},
		{name: "not JSON", input: `2026-01-01T00:00:00Z info Metrics`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := parseLogLine(tt.input, at)
			require.Equal(t, tt.wantOK, ok)
			require.Equal(t, tt.want, got)
		})
	}
}

func TestParseCounts(t *testing.T) {
	got, err := parseCounts("0, 1000")
	require.NoError(t, err)
	require.Equal(t, []int{0, 1000}, got)
	_, err = parseCounts("10,-1")
	require.ErrorContains(t, err, `"-1"`)
}
