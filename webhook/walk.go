package webhook

import (
	"bytes"
	"encoding/binary"
	"math/bits"
	"slices"
	"sync"
	"unicode/utf8"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
)

// A review is decoded by a scanner that makes one pass over the body,
// checking all of it as JSON and reading only the members the policy needs
// into the view types of review.go. Decoding the body with json.Unmarshal
// (encoding/json/v2) into those types is the reference: the scan either gives
// the same review, or gives up and json.Unmarshal decodes the body, so every
// error (and its field path) is json.Unmarshal's own. FuzzWalkAgrees checks
// that whatever the scan accepts, json.Unmarshal accepts and decodes the same.
//
// The scan gives up on anything it does not need to handle itself:
//
//   - any JSON error: bad syntax, a duplicate name in any object, read or
//     skipped (compared unescaped, as the decoder does), data after the review;
//   - a read member of the wrong JSON kind;
//   - invalid UTF-8, a surrogate escape (\ud800), nesting deeper than 500;
//   - a map member whose value is not a string;
//   - a small leaf (a security context, affinity, tolerations) that
//     json.Unmarshal of its own bytes refuses.
//
// null leaves a member at its zero value, as json.Unmarshal does for views
// that start at zero.

// maxDepth is where the scan leaves a body to json.Unmarshal, whose own limit
// is 10000.
const maxDepth = 500

// linearNames is the object size up to which names are checked for
// duplicates one by one; a larger object is sorted once at its end.
const linearNames = 32

type scanner struct {
	b     []byte
	i     int
	depth int
	// names are the names of the objects being scanned, the innermost
	// object's last, as spans of the body or, unescaped, of the arena.
	names  []span
	arena  []byte
	sorted [][]byte
	// strings caches the strings the scan made: most strings of a review
	// (apiVersion, kind, operation, the user, the images) repeat from one
	// review to the next.
	strings [64]string
}

var scanners = sync.Pool{New: func() any { return new(scanner) }}

// walkReview decodes body into r, which must be zero.
func walkReview(body []byte, r *review) error {
	s := scanners.Get().(*scanner)
	s.b, s.i, s.depth = body, 0, 0
	ok := s.review(r)
	s.b, s.names, s.arena = nil, s.names[:0], s.arena[:0]
	clear(s.sorted[:cap(s.sorted)])
	s.sorted = s.sorted[:0]
	scanners.Put(s)
	if ok {
		return nil
	}
	*r = review{}
	return json.Unmarshal(body, r, decodeOptions)
}

func (s *scanner) review(r *review) bool {
	if s.peek() != '{' || !object(s, r, reviewMember) {
		return false
	}
	s.space()
	return s.i == len(s.b) // like json.Unmarshal: the review is the whole body
}

func reviewMember(s *scanner, r *review, name []byte) bool {
	switch string(name) {
	case "apiVersion":
		return s.str(&r.APIVersion)
	case "kind":
		return s.str(&r.Kind)
	case "request":
		return objectPtr(s, &r.Request, requestMember)
	}
	return s.skip()
}

func requestMember(s *scanner, q *request, name []byte) bool {
	switch string(name) {
	case "uid":
		return s.str((*string)(&q.UID))
	case "kind":
		return objectVal(s, &q.Kind, gvkMember)
	case "resource":
		return objectVal(s, &q.Resource, gvrMember)
	case "subResource":
		return s.str(&q.SubResource)
	case "name":
		return s.str(&q.Name)
	case "namespace":
		return s.str(&q.Namespace)
	case "operation":
		return s.str((*string)(&q.Operation))
	case "userInfo":
		return objectVal(s, &q.UserInfo, userInfoMember)
	case "object":
		return objectPtr(s, &q.Object, objectMember)
	case "oldObject":
		return objectPtr(s, &q.OldObject, objectMember)
	case "dryRun":
		return s.leaf(&q.DryRun)
	}
	return s.skip()
}

func userInfoMember(s *scanner, u *userInfoView, name []byte) bool {
	if string(name) == "username" {
		return s.str(&u.Username)
	}
	return s.skip()
}

func gvkMember(s *scanner, k *metav1.GroupVersionKind, name []byte) bool {
	switch string(name) {
	case "group":
		return s.str(&k.Group)
	case "version":
		return s.str(&k.Version)
	case "kind":
		return s.str(&k.Kind)
	}
	return s.skip()
}

func gvrMember(s *scanner, r *metav1.GroupVersionResource, name []byte) bool {
	switch string(name) {
	case "group":
		return s.str(&r.Group)
	case "version":
		return s.str(&r.Version)
	case "resource":
		return s.str(&r.Resource)
	}
	return s.skip()
}

func objectMember(s *scanner, o *objectView, name []byte) bool {
	switch string(name) {
	case "metadata":
		return objectVal(s, &o.Metadata, metaMember)
	case "spec":
		return objectVal(s, &o.Spec, specMember)
	case "template":
		return objectPtr(s, &o.Template, templateMember)
	}
	return s.skip()
}

func metaMember(s *scanner, m *metaView, name []byte) bool {
	switch string(name) {
	case "name":
		return s.str(&m.Name)
	case "generateName":
		return s.str(&m.GenerateName)
	case "namespace":
		return s.str(&m.Namespace)
	case "annotations":
		return s.stringMap(&m.Annotations)
	}
	return s.skip()
}

// specMember reads a Pod's spec and a workload's spec in one: their member
// names do not collide (see objectView).
func specMember(s *scanner, v *specView, name []byte) bool {
	switch string(name) {
	case "template":
		return objectPtr(s, &v.Template, templateMember)
	case "jobTemplate":
		return objectPtr(s, &v.JobTemplate, jobTemplateMember)
	}
	return podSpecMember(s, &v.podSpecView, name)
}

func jobTemplateMember(s *scanner, j *jobTemplateView, name []byte) bool {
	if string(name) == "spec" {
		return objectVal(s, &j.Spec, jobSpecMember)
	}
	return s.skip()
}

func jobSpecMember(s *scanner, j *jobSpecView, name []byte) bool {
	if string(name) == "template" {
		return objectPtr(s, &j.Template, templateMember)
	}
	return s.skip()
}

func templateMember(s *scanner, t *templateView, name []byte) bool {
	switch string(name) {
	case "metadata":
		return objectVal(s, &t.Metadata, templateMetaMember)
	case "spec":
		return objectVal(s, &t.Spec, podSpecMember)
	}
	return s.skip()
}

func templateMetaMember(s *scanner, m *templateMetaView, name []byte) bool {
	if string(name) == "annotations" {
		return s.stringMap(&m.Annotations)
	}
	return s.skip()
}

// podSpecMember reads one member of a pod spec.
func podSpecMember(s *scanner, p *podSpecView, name []byte) bool {
	switch string(name) {
	case "hostNetwork":
		return s.boolean(&p.HostNetwork)
	case "securityContext":
		return s.leaf(&p.SecurityContext)
	case "initContainers":
		return s.containers(&p.InitContainers)
	case "containers":
		return s.containers(&p.Containers)
	case "ephemeralContainers":
		return s.containers(&p.EphemeralContainers)
	case "os":
		return s.leaf(&p.OS)
	case "nodeSelector":
		return s.stringMap(&p.NodeSelector)
	case "affinity":
		return s.leaf(&p.Affinity)
	case "tolerations":
		return s.leaf(&p.Tolerations)
	}
	return s.skip()
}

func containerMember(s *scanner, c *containerView, name []byte) bool {
	switch string(name) {
	case "name":
		return s.str(&c.Name)
	case "image":
		return s.str(&c.Image)
	case "securityContext":
		return s.leaf(&c.SecurityContext)
	}
	return s.skip()
}

// containers reads an array of containers; [] is an empty slice, not nil, as
// json.Unmarshal makes it.
func (s *scanner) containers(cs *[]containerView) bool {
	switch s.peek() {
	case 'n':
		return s.literal("null")
	case '[':
	default:
		return false
	}
	if !s.enter() {
		return false
	}
	out := []containerView{}
	if s.peek() == ']' {
		s.i++
		s.depth--
		*cs = out
		return true
	}
	for {
		out = append(out, containerView{})
		if s.peek() != '{' || !object(s, &out[len(out)-1], containerMember) {
			return false
		}
		switch s.peek() {
		case ',':
			s.i++
		case ']':
			s.i++
			s.depth--
			*cs = out
			return true
		default:
			return false
		}
	}
}

// stringMap reads an object of strings; {} is an empty map, not nil, as
// json.Unmarshal makes it. A value that is not a string is left to
// json.Unmarshal.
func (s *scanner) stringMap(m *map[string]string) bool {
	switch s.peek() {
	case 'n':
		return s.literal("null")
	case '{':
		*m = map[string]string{}
		return object(s, m, stringMember)
	}
	return false
}

func stringMember(s *scanner, m *map[string]string, name []byte) bool {
	var v string
	if s.peek() != '"' || !s.str(&v) {
		return false
	}
	(*m)[s.intern(name)] = v
	return true
}

// objectVal reads an object into v; null leaves v as it is.
func objectVal[T any](s *scanner, v *T, member func(*scanner, *T, []byte) bool) bool {
	switch s.peek() {
	case 'n':
		return s.literal("null")
	case '{':
		return object(s, v, member)
	}
	return false
}

// objectPtr reads an object into a new T; null leaves *p nil.
func objectPtr[T any](s *scanner, p **T, member func(*scanner, *T, []byte) bool) bool {
	switch s.peek() {
	case 'n':
		return s.literal("null")
	case '{':
		*p = new(T)
		return object(s, *p, member)
	}
	return false
}

// object scans the object at s.i into v, calling member for each name;
// member must read or skip the value.
func object[T any](s *scanner, v *T, member func(*scanner, *T, []byte) bool) bool {
	if !s.enter() {
		return false
	}
	mark := len(s.names)
	if s.peek() == '}' {
		s.i++
		s.depth--
		return true
	}
	for {
		if s.peek() != '"' {
			return false
		}
		name, ok := s.name(mark)
		if !ok || s.peek() != ':' {
			return false
		}
		s.i++
		if !member(s, v, name) {
			return false
		}
		switch s.peek() {
		case ',':
			s.i++
		case '}':
			s.i++
			s.depth--
			return s.leave(mark)
		default:
			return false
		}
	}
}

// A span is a name's place: s.b[from:to], or s.arena[from:to] when the name
// was escaped. Spans keep the scanner's slices free of pointers.
type span struct {
	from, to int
	arena    bool
}

func (s *scanner) bytes(n span) []byte {
	if n.arena {
		return s.arena[n.from:n.to]
	}
	return s.b[n.from:n.to]
}

// name scans a member name and records it, failing on a duplicate among the
// names after mark (up to linearNames of them; leave checks the rest).
func (s *scanner) name(mark int) ([]byte, bool) {
	start := s.i
	escaped, ok := s.quoted()
	if !ok {
		return nil, false
	}
	n := span{from: start + 1, to: s.i - 1}
	if escaped {
		from := len(s.arena)
		var err error
		if s.arena, err = jsontext.AppendUnquote(s.arena, s.b[start:s.i]); err != nil {
			return nil, false
		}
		n = span{from: from, to: len(s.arena), arena: true}
	}
	name := s.bytes(n)
	if len(s.names)-mark < linearNames {
		for _, prev := range s.names[mark:] {
			if prev.to-prev.from == len(name) && string(s.bytes(prev)) == string(name) {
				return nil, false
			}
		}
	}
	s.names = append(s.names, n)
	return name, true
}

// leave ends the object whose names start at mark, checking a large one's
// names for duplicates.
func (s *scanner) leave(mark int) bool {
	s.depth--
	names := s.names[mark:]
	s.names = s.names[:mark]
	if len(names) <= linearNames {
		return true
	}
	s.sorted = s.sorted[:0]
	for _, n := range names {
		s.sorted = append(s.sorted, s.bytes(n))
	}
	slices.SortFunc(s.sorted, bytes.Compare)
	for i := 1; i < len(s.sorted); i++ {
		if bytes.Equal(s.sorted[i-1], s.sorted[i]) {
			return false
		}
	}
	return true
}

func (s *scanner) enter() bool {
	s.i++ // { or [
	s.depth++
	return s.depth <= maxDepth
}

// skip scans any value.
func (s *scanner) skip() bool {
	switch c := s.peek(); c {
	case '{':
		if !s.enter() {
			return false
		}
		mark := len(s.names)
		if s.peek() == '}' {
			s.i++
			s.depth--
			return true
		}
		for {
			if s.peek() != '"' {
				return false
			}
			if _, ok := s.name(mark); !ok || s.peek() != ':' {
				return false
			}
			s.i++
			if !s.skip() {
				return false
			}
			switch s.peek() {
			case ',':
				s.i++
			case '}':
				s.i++
				return s.leave(mark)
			default:
				return false
			}
		}
	case '[':
		if !s.enter() {
			return false
		}
		if s.peek() == ']' {
			s.i++
			s.depth--
			return true
		}
		for {
			if !s.skip() {
				return false
			}
			switch s.peek() {
			case ',':
				s.i++
			case ']':
				s.i++
				s.depth--
				return true
			default:
				return false
			}
		}
	case '"':
		_, ok := s.quoted()
		return ok
	case 't':
		return s.literal("true")
	case 'f':
		return s.literal("false")
	case 'n':
		return s.literal("null")
	default:
		if c == '-' || c >= '0' && c <= '9' {
			return s.number()
		}
		return false
	}
}

// leaf decodes the value at s.i into v with json.Unmarshal.
func (s *scanner) leaf(v any) bool {
	start := s.i
	if !s.skip() {
		return false
	}
	return json.Unmarshal(s.b[start:s.i], v, decodeOptions) == nil
}

func (s *scanner) str(v *string) bool {
	switch s.peek() {
	case 'n':
		return s.literal("null")
	case '"':
	default:
		return false
	}
	start := s.i
	escaped, ok := s.quoted()
	if !ok {
		return false
	}
	if escaped {
		b, err := jsontext.AppendUnquote(nil, s.b[start:s.i])
		*v = string(b)
		return err == nil
	}
	*v = s.intern(s.b[start+1 : s.i-1])
	return true
}

func (s *scanner) boolean(v *bool) bool {
	switch s.peek() {
	case 'n':
		return s.literal("null")
	case 't':
		*v = true
		return s.literal("true")
	case 'f':
		return s.literal("false")
	}
	return false
}

// peek skips whitespace and returns the next byte, 0 at the end.
func (s *scanner) peek() byte {
	if s.i < len(s.b) && s.b[s.i] > ' ' {
		return s.b[s.i]
	}
	s.space()
	if s.i < len(s.b) {
		return s.b[s.i]
	}
	return 0
}

func (s *scanner) space() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

func (s *scanner) literal(lit string) bool {
	if len(s.b)-s.i < len(lit) || string(s.b[s.i:s.i+len(lit)]) != lit {
		return false
	}
	s.i += len(lit)
	return true
}

// number scans -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?; what may
// follow it is left to the caller.
func (s *scanner) number() bool {
	b, i := s.b, s.i
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		i = digits(b, i)
	default:
		return false
	}
	if i < len(b) && b[i] == '.' {
		j := digits(b, i+1)
		if j == i+1 {
			return false
		}
		i = j
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		j := digits(b, i)
		if j == i {
			return false
		}
		i = j
	}
	s.i = i
	return true
}

func digits(b []byte, i int) int {
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		i++
	}
	return i
}

// quoted scans the string at s.i, reporting whether it has escapes. It
// fails on a control character, a bad escape, a surrogate escape or invalid
// UTF-8.
func (s *scanner) quoted() (escaped, ok bool) {
	b := s.b
	i := s.i + 1
	for {
		// Eight bytes at a time up to the first quote, backslash, control
		// character or non-ASCII byte; then one at a time.
		for {
			if i+8 > len(b) {
				for i < len(b) && plain[b[i]] {
					i++
				}
				break
			}
			if m := special(binary.LittleEndian.Uint64(b[i:])); m != 0 {
				i += bits.TrailingZeros64(m) >> 3
				break
			}
			i += 8
		}
		if i >= len(b) {
			return false, false
		}
		switch c := b[i]; {
		case c == '"':
			s.i = i + 1
			return escaped, true
		case c == '\\':
			n := escape(b[i+1:])
			if n == 0 {
				return false, false
			}
			escaped = true
			i += 1 + n
		case c < 0x20:
			return false, false
		default:
			r, n := utf8.DecodeRune(b[i:])
			if r == utf8.RuneError && n == 1 {
				return false, false
			}
			i += n
		}
	}
}

// plain tells the bytes a string may hold as they are: not a quote, a
// backslash, a control character or non-ASCII.
var plain = func() (t [256]bool) {
	for c := 0x20; c < 0x80; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// special returns a mask whose lowest set bit is the high bit of the first
// byte of x (little-endian) that is a quote, a backslash, below 0x20 or at
// least 0x80, and 0 when there is none. Bytes above that one may have their
// bit set too: the subtractions borrow from them.
func special(x uint64) uint64 {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	quote := x ^ (ones * '"')
	backslash := x ^ (ones * '\\')
	return ((x - ones*0x20) | (quote - ones) | (backslash - ones) | x) & highs
}

// escape returns the length of the escape sequence that b starts with
// (after the backslash), or 0 when it is invalid or a surrogate.
func escape(b []byte) int {
	if len(b) == 0 {
		return 0
	}
	switch b[0] {
	case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
		return 1
	case 'u':
		if len(b) < 5 {
			return 0
		}
		r := rune(0)
		for _, c := range b[1:5] {
			switch {
			case c >= '0' && c <= '9':
				c -= '0'
			case c >= 'a' && c <= 'f':
				c -= 'a' - 10
			case c >= 'A' && c <= 'F':
				c -= 'A' - 10
			default:
				return 0
			}
			r = r<<4 | rune(c)
		}
		if r >= 0xD800 && r <= 0xDFFF {
			return 0
		}
		return 5
	}
	return 0
}

// intern returns b as a string, from the cache when the string was made
// before (the slot is chosen by the length and the first and last bytes).
func (s *scanner) intern(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	if len(b) > 64 {
		return string(b)
	}
	slot := &s.strings[(len(b)*31+int(b[0])*7+int(b[len(b)-1]))%len(s.strings)]
	if *slot != string(b) {
		*slot = string(b)
	}
	return *slot
}
