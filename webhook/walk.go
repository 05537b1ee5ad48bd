package webhook

import (
	"bytes"
	"encoding/binary"
	"math/bits"
	"slices"
	"sync"
	"unicode/utf8"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

	"github.com/hostprocess-admission/hostprocess-admission/policy"
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

// maxPooledNames bounds the names a pooled scanner keeps room for.
const maxPooledNames = 4096

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
	// containers and tolerations are scratch space for arrayVia.
	containers  []containerView
	tolerations []corev1.Toleration
	// strings caches the strings the scan made: most strings of a review
	// (apiVersion, kind, operation, the user, the images) repeat from one
	// review to the next.
	strings [256]string
}

var scanners = sync.Pool{New: func() any { return new(scanner) }}

// walkReview decodes body into r, which must be zero.
func walkReview(body []byte, r *review) error {
	s := scanners.Get().(*scanner)
	s.b, s.i, s.depth = body, 0, 0
	ok := s.review(r)
	s.b = nil
	clear(s.sorted[:cap(s.sorted)])
	s.names, s.arena, s.sorted = s.names[:0], s.arena[:0], s.sorted[:0]
	if cap(s.names) > maxPooledNames || cap(s.arena) > maxPooledBuffer {
		s.names, s.arena, s.sorted = nil, nil, nil // an unusual body's
	}
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
		return orLeaf(s, &q.DryRun, boolPtr)
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
		return objectVal(s, &m.Annotations, annotationMember)
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
		return objectVal(s, &m.Annotations, annotationMember)
	}
	return s.skip()
}

// podSpecMember reads one member of a pod spec.
func podSpecMember(s *scanner, p *podSpecView, name []byte) bool {
	switch string(name) {
	case "hostNetwork":
		return s.boolean(&p.HostNetwork)
	case "securityContext":
		return orLeaf(s, &p.SecurityContext, podSecurityContext)
	case "initContainers":
		return arrayVia(s, &p.InitContainers, &s.containers, container)
	case "containers":
		return arrayVia(s, &p.Containers, &s.containers, container)
	case "ephemeralContainers":
		return arrayVia(s, &p.EphemeralContainers, &s.containers, container)
	case "os":
		return s.leaf(&p.OS)
	case "nodeSelector":
		return s.stringMap(&p.NodeSelector)
	case "affinity":
		return orLeaf(s, &p.Affinity, affinity)
	case "tolerations":
		return orLeaf(s, &p.Tolerations, tolerations)
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
		return orLeaf(s, &c.SecurityContext, securityContext)
	}
	return s.skip()
}

// array reads an array, each element with elem; [] is an empty slice, not
// nil, as json.Unmarshal makes it.
func array[T any](s *scanner, p *[]T, elem func(*scanner, *T) bool) bool {
	return arrayVia(s, p, nil, elem)
}

// arrayVia is array reading the elements into *scratch (when not nil) and
// copying them into a slice of the exact length: containers and tolerations
// are most of a review's garbage. Arrays of one type must not nest.
func arrayVia[T any](s *scanner, p *[]T, scratch *[]T, elem func(*scanner, *T) bool) bool {
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
	if s.peek() == ']' {
		s.i++
		s.depth--
		*p = []T{}
		return true
	}
	var out []T
	if scratch != nil {
		out = (*scratch)[:0]
		defer func() {
			clear(out)
			*scratch = nil
			if cap(out) <= maxPooledContainers {
				*scratch = out[:0]
			}
		}()
	}
	for {
		var zero T
		out = append(out, zero)
		if !elem(s, &out[len(out)-1]) {
			return false
		}
		switch s.peek() {
		case ',':
			s.i++
		case ']':
			s.i++
			s.depth--
			if scratch != nil {
				*p = append(make([]T, 0, len(out)), out...)
			} else {
				*p = out
			}
			return true
		default:
			return false
		}
	}
}

// element reads an array element with member; the element must be an object
// (json.Unmarshal decodes a null element as a zero value; the scan leaves
// that to it).
func element[T any](member func(*scanner, *T, []byte) bool) func(*scanner, *T) bool {
	return func(s *scanner, v *T) bool { return s.peek() == '{' && object(s, v, member) }
}

// pointer reads an object into a new T with member, as objectPtr does.
func pointer[T any](member func(*scanner, *T, []byte) bool) func(*scanner, **T) bool {
	return func(s *scanner, p **T) bool { return objectPtr(s, p, member) }
}

var container = element(containerMember)

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

func annotationMember(s *scanner, a *runtimeAnnotations, name []byte) bool {
	if s.peek() != '"' {
		return false
	}
	for _, key := range policy.RuntimeAnnotations {
		if string(name) == key {
			var v string
			if !s.str(&v) {
				return false
			}
			if *a == nil {
				*a = runtimeAnnotations{}
			}
			(*a)[key] = v
			return true
		}
	}
	return s.skip()
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
	mark, seen := len(s.names), uint64(0)
	if s.peek() == '}' {
		s.i++
		s.depth--
		return true
	}
	for {
		if s.peek() != '"' {
			return false
		}
		name, ok := s.name(mark, &seen)
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
	from, to int32 // a body is at most DefaultMaxBodyBytes
	arena    bool
}

func (s *scanner) bytes(n span) []byte {
	if n.arena {
		return s.arena[n.from:n.to]
	}
	return s.b[n.from:n.to]
}

// name scans a member name and records it, failing on a duplicate among the
// names after mark (up to linearNames of them; leave checks the rest). seen
// has a bit set for each name of the object so far, chosen by its length and
// last byte: a name whose bit is clear is new without comparing.
func (s *scanner) name(mark int, seen *uint64) ([]byte, bool) {
	start := s.i
	end, escaped := quoted(s.b, start)
	if end < 0 {
		return nil, false
	}
	s.i = end
	name := s.b[start+1 : end-1]
	n := span{from: int32(start + 1), to: int32(end - 1)}
	if escaped {
		from := len(s.arena)
		var err error
		if s.arena, err = jsontext.AppendUnquote(s.arena, s.b[start:end]); err != nil {
			return nil, false
		}
		name = s.arena[from:]
		n = span{from: int32(from), to: int32(len(s.arena)), arena: true}
	}
	bit := uint64(1) << ((len(name)*7 + int(lastByte(name))) & 63)
	if *seen&bit != 0 && len(s.names)-mark < linearNames {
		for _, prev := range s.names[mark:] {
			if int(prev.to-prev.from) == len(name) && string(s.bytes(prev)) == string(name) {
				return nil, false
			}
		}
	}
	*seen |= bit
	s.names = append(s.names, n)
	return name, true
}

func lastByte(b []byte) byte {
	if len(b) == 0 {
		return 0
	}
	return b[len(b)-1]
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

// skip scans any value. Its object case is object with a member function
// that skips, written out: the call per member through a function value cost
// 3% of the handler's instructions (callgrind, 152,849 against 157,753).
func (s *scanner) skip() bool {
	switch c := s.peek(); c {
	case '{':
		if !s.enter() {
			return false
		}
		mark, seen := len(s.names), uint64(0)
		if s.peek() == '}' {
			s.i++
			s.depth--
			return true
		}
		for {
			if s.peek() != '"' {
				return false
			}
			if _, ok := s.name(mark, &seen); !ok || s.peek() != ':' {
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
		end, _ := quoted(s.b, s.i)
		s.i = end
		return end >= 0
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
	end, escaped := quoted(s.b, start)
	if end < 0 {
		return false
	}
	s.i = end
	if escaped {
		b, err := jsontext.AppendUnquote(nil, s.b[start:end])
		*v = string(b)
		return err == nil
	}
	*v = s.intern(s.b[start+1 : end-1])
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

// quoted scans the string that starts at b[i] and returns the index after
// it, and whether it has escapes; end is -1 on a control character, a bad
// escape, a surrogate escape, invalid UTF-8 or a missing closing quote.
func quoted(b []byte, i int) (end int, escaped bool) {
	i++
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
			if m := special(binary.LittleEndian.Uint64(b[i : i+8])); m != 0 {
				i += bits.TrailingZeros64(m) >> 3
				break
			}
			i += 8
		}
		if i >= len(b) {
			return -1, false
		}
		switch c := b[i]; {
		case c == '"':
			return i + 1, escaped
		case c == '\\':
			n := escape(b[i+1:])
			if n == 0 {
				return -1, false
			}
			escaped = true
			i += 1 + n
		case c < 0x20:
			return -1, false
		default:
			r, n := utf8.DecodeRune(b[i:])
			if r == utf8.RuneError && n == 1 {
				return -1, false
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
	if len(b) > 128 {
		return string(b)
	}
	slot := &s.strings[(len(b)*31+int(b[0])*7+int(b[len(b)-1]))%len(s.strings)]
	if *slot != string(b) {
		*slot = string(b)
	}
	return *slot
}
