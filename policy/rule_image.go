package policy

import "strings"

/*
Rule image: when the namespace rule that applies lists allowedImages, every
container image of a HostProcess pod matches one of its patterns.

Fields:
  spec.initContainers[*].image
  spec.containers[*].image
  spec.ephemeralContainers[*].image

Allowed: an image matching a pattern, where '*' matches any run of characters,
'/' included, and everything else is literal. Images are matched as written in
the pod: "nginx" does not match "docker.io/library/*".
*/

// RuleImage is the rule's stable ID: messages, metrics and reports use it.
const RuleImage = "image"

func checkImage(ev *evaluation) {
	if len(ev.scope.images) == 0 {
		return
	}
	visitContainers(ev.in.Spec, func(c containerRef) bool {
		if ev.scope.allowsImage(c.container.Image) {
			return true
		}
		ev.add(RuleImage, c.Name(), c.path(ev.in.SpecPath)+".image",
			"container "+quote(c.Name())+": image "+quote(c.container.Image)+" is not allowed (allowed: "+ev.scope.allowedImages+")")
		return true
	})
}

func (s *scope) allowsImage(image string) bool {
	for i := range s.images {
		if s.images[i].match(image) {
			return true
		}
	}
	return false
}

// imagePattern is a pattern split at its '*' wildcards.
type imagePattern struct {
	parts []string // literal runs; a '*' stands between each pair
}

func compileImagePattern(p string) imagePattern {
	return imagePattern{parts: strings.Split(p, "*")}
}

// match reports whether s matches the pattern. The first part must be a
// prefix, the last a suffix, and the middle parts appear in order between them.
func (p imagePattern) match(s string) bool {
	parts := p.parts
	if len(parts) == 1 {
		return s == parts[0]
	}
	first, last := parts[0], parts[len(parts)-1]
	if len(s) < len(first)+len(last) || !strings.HasPrefix(s, first) || !strings.HasSuffix(s, last) {
		return false
	}
	middle := s[len(first) : len(s)-len(last)]
	for _, part := range parts[1 : len(parts)-1] {
		i := strings.Index(middle, part)
		if i < 0 {
			return false
		}
		middle = middle[i+len(part):]
	}
	return true
}
