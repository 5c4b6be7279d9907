// Package pipelinetest runs the cgroupmem receiver and the memdivergence processor together,
// through their factories and component lifecycles. It lives apart from the processor's unit
// tests so that those build and run without the receiver.
package pipelinetest // import "github.com/cgroupmem/cgroupmem/processor/memdivergenceprocessor/internal/pipelinetest"
