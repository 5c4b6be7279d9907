package dentrybpf

//go:generate go tool -modfile=../../tools/go.mod bpf2go -cc clang -target amd64,arm64 -tags linux,!noebpf -no-global-types dentry bpf/dentry.bpf.c -- -I./bpf -Wall -Werror
