//go:build race

package k8smeta

// raceEnabled says the race detector is on: it allocates for itself and reads the hostile
// lists ten times slower, which a measurement of the decoder's allocations must not include.
const raceEnabled = true
