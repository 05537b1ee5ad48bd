package nativepolicy

import (
	"strings"

	"github.com/hostprocess-admission/hostprocess-admission/policy"
)

// imageCEL is policy/rule_image.go: when the matched namespace rule lists
// allowedImages, every container image matches one of its patterns.
func imageCEL(g *generator) ruleCEL {
	allowed := func(s *scope, image string) string {
		m := make([]string, len(s.images))
		for i, p := range s.images {
			m[i] = image + ".matches(" + lit(imageRegexp(p)) + ")"
		}
		return "(" + strings.Join(m, " || ") + ")"
	}
	return ruleCEL{
		fails: g.pick(func(s *scope) string {
			if len(s.images) == 0 {
				return "false"
			}
			return "variables.all.exists(c, !" + allowed(s, "c.?image.orValue('')") + ")"
		}),
		violations: g.pick(func(s *scope) string {
			if len(s.images) == 0 {
				return "[]"
			}
			return "variables.containers.filter(x, !" + allowed(s, "x.image") + ").map(x, " +
				violation(policy.RuleImage, "'container ' + x.qname + ': image ' + "+quoteCEL("x.image")+" + "+lit(" is not allowed (allowed: "+s.allowedImages+")")) + ")"
		}),
	}
}
