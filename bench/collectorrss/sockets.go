package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// waitSleeping waits until the process has exec'd sleep: its sockets are open.
func waitSleeping(pid int, deadline time.Time) error {
	for {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/comm")
		if err == nil && strings.TrimSpace(string(b)) == "sleep" {
			return nil
		}
		if err != nil || time.Now().After(deadline) {
			return fmt.Errorf("container process %d did not open its sockets and sleep: %v", pid, err)
		}
		time.Sleep(2 * time.Millisecond)
	}
}
