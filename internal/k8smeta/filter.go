package k8smeta

import (
	"fmt"
	"regexp"
)

// patterns is one kind of name's compiled include and exclude expressions.
type patterns struct {
	include []*regexp.Regexp
	exclude []*regexp.Regexp
}

// allows reports whether name passes. An empty name is unknown and passes.
func (p patterns) allows(name string) bool {
	if name == "" {
		return true
	}
	for _, re := range p.exclude {
		if re.MatchString(name) {
			return false
		}
	}
	if len(p.include) == 0 {
		return true
	}
	for _, re := range p.include {
		if re.MatchString(name) {
			return true
		}
	}
	return false
}

// filter is a compiled FilterConfig.
type filter struct {
	namespaces patterns
	pods       patterns
	containers patterns
}

func (f filter) allows(namespace, pod, container string) bool {
	return f.namespaces.allows(namespace) && f.pods.allows(pod) && f.containers.allows(container)
}

func compileFilter(cfg FilterConfig) (filter, error) {
	var f filter
	var err error
	for _, c := range []struct {
		key      string
		dst      *[]*regexp.Regexp
		patterns []string
	}{
		{"include.namespaces", &f.namespaces.include, cfg.Include.Namespaces},
		{"include.pods", &f.pods.include, cfg.Include.Pods},
		{"include.containers", &f.containers.include, cfg.Include.Containers},
		{"exclude.namespaces", &f.namespaces.exclude, cfg.Exclude.Namespaces},
		{"exclude.pods", &f.pods.exclude, cfg.Exclude.Pods},
		{"exclude.containers", &f.containers.exclude, cfg.Exclude.Containers},
	} {
		if *c.dst, err = compilePatterns(c.key, c.patterns); err != nil {
			return filter{}, err
		}
	}
	return f, nil
}

func compilePatterns(key string, exprs []string) ([]*regexp.Regexp, error) {
	out := make([]*regexp.Regexp, 0, len(exprs))
	for _, expr := range exprs {
		re, err := regexp.Compile(expr)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", key, err)
		}
		out = append(out, re)
	}
	return out, nil
}

func (c FilterConfig) hasPatterns() bool {
	return len(c.Include.Namespaces)+len(c.Include.Pods)+len(c.Include.Containers)+
		len(c.Exclude.Namespaces)+len(c.Exclude.Pods)+len(c.Exclude.Containers) > 0
}
