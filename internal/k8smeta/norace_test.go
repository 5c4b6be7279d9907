//go:build !race

package k8smeta

const raceEnabled = false
