package postgres

import (
	"math"
	"sort"
	"sync"

	pg_query "github.com/pganalyze/pg_query_go/v6"
	"github.com/pganalyze/pg_query_go/v6/parser"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// deparseExact prints a rewritten statement and checks that printing lost
// nothing: the printed text must parse back to the same tree (locations
// aside, nested AND/OR flattened as the parser does). A statement the
// deparser cannot print faithfully is refused rather than run changed.
// It does not modify n, so n may share nodes with a cached parse tree.
//
// The trees are compared in their protobuf encodings, the form both the
// deparser's input and the parser's output take anyway: n is encoded once
// (the deparser needs those bytes) and the reparsed text is never decoded
// into Go structs. sameTree is proto.Equal of the decoded trees after
// dropping locations and flattening AND/OR, computed on the bytes; see its
// comment for why it is never more lenient than that comparison.
func deparseExact(n *pg_query.Node) (string, bool) {
	enc, err := proto.Marshal(&pg_query.ParseResult{Version: parseVersion, Stmts: []*pg_query.RawStmt{{Stmt: n}}})
	if err != nil {
		return "", false
	}
	return deparseEncoded(enc)
}

// deparseEncoded is deparseExact of an encoded ParseResult.
func deparseEncoded(enc []byte) (string, bool) {
	sql, err := parser.DeparseFromProtobuf(enc)
	if err != nil {
		return "", false
	}
	back, err := parser.ParseToProtobuf(sql)
	if err != nil {
		return "", false
	}
	a, okA := onlyStmt(enc)
	b, okB := onlyStmt(back)
	if !okA || !okB {
		return "", false
	}
	return sql, sameTree(a, b)
}

// wireSchema is what the byte comparison needs to know of pg_query's
// messages, built once from their descriptors.
type wireSchema struct {
	msgs []wireMsg
	node int // index of Node
	// ParseResult.stmts, RawStmt.stmt
	resultStmts, rawStmt protowire.Number
	boolExpr             int              // index of BoolExpr
	nodeBoolExpr         protowire.Number // Node.bool_expr
	boolop, args         protowire.Number // BoolExpr.boolop, BoolExpr.args
}

type wireMsg struct {
	fields []wireField // by field number; kind 0 for numbers the message lacks
}

type wireKind uint8

const (
	wkNone     wireKind = iota // no such field
	wkVarint                   // int64, uint64: compared as is
	wkVarint32                 // int32, uint32, enum: the low 32 bits
	wkZigzag                   // sint64
	wkZigzag32                 // sint32
	wkBool                     // bool: zero or not
	wkFixed32                  // fixed32, sfixed32, float: the bits
	wkFixed64                  // fixed64, sfixed64, double: the bits
	wkBytes                    // string, bytes
	wkMessage                  // a message (or map entry)
)

type wireField struct {
	kind wireKind
	msg  int  // message index, for wkMessage
	list bool // repeated
	// skip: a location (location, stmt_location, stmt_len), ignored.
	skip bool
	// implicit: a singular scalar without presence, whose zero value is
	// the same as its absence.
	implicit bool
}

var (
	schemaOnce sync.Once
	schema     *wireSchema
)

func wire() *wireSchema {
	schemaOnce.Do(func() { schema = buildSchema() })
	return schema
}

func buildSchema() *wireSchema {
	s := &wireSchema{}
	index := map[protoreflect.FullName]int{}
	var add func(md protoreflect.MessageDescriptor) int
	add = func(md protoreflect.MessageDescriptor) int {
		if i, ok := index[md.FullName()]; ok {
			return i
		}
		i := len(s.msgs)
		index[md.FullName()] = i
		s.msgs = append(s.msgs, wireMsg{})
		fds := md.Fields()
		maxNum := 0
		for j := 0; j < fds.Len(); j++ {
			maxNum = max(maxNum, int(fds.Get(j).Number()))
		}
		fields := make([]wireField, maxNum+1)
		for j := 0; j < fds.Len(); j++ {
			fd := fds.Get(j)
			f := wireField{list: fd.IsList() || fd.IsMap()}
			switch fd.Kind() {
			case protoreflect.Int64Kind, protoreflect.Uint64Kind:
				f.kind = wkVarint
			case protoreflect.Int32Kind, protoreflect.Uint32Kind, protoreflect.EnumKind:
				f.kind = wkVarint32
			case protoreflect.Sint64Kind:
				f.kind = wkZigzag
			case protoreflect.Sint32Kind:
				f.kind = wkZigzag32
			case protoreflect.BoolKind:
				f.kind = wkBool
			case protoreflect.Fixed32Kind, protoreflect.Sfixed32Kind, protoreflect.FloatKind:
				f.kind = wkFixed32
			case protoreflect.Fixed64Kind, protoreflect.Sfixed64Kind, protoreflect.DoubleKind:
				f.kind = wkFixed64
			case protoreflect.StringKind, protoreflect.BytesKind:
				f.kind = wkBytes
			case protoreflect.MessageKind:
				f.kind = wkMessage
				f.msg = add(fd.Message())
			default: // groups: never in pg_query; such a field never compares equal
				f.kind = wkNone
			}
			switch fd.Name() {
			case "location", "stmt_location", "stmt_len":
				f.skip = true
			}
			f.implicit = !f.list && !fd.HasPresence() && f.kind != wkMessage
			fields[fd.Number()] = f
		}
		s.msgs[i].fields = fields
		return i
	}
	num := func(md protoreflect.MessageDescriptor, name protoreflect.Name) protowire.Number {
		return md.Fields().ByName(name).Number()
	}
	node := (&pg_query.Node{}).ProtoReflect().Descriptor()
	s.node = add(node)
	result := (&pg_query.ParseResult{}).ProtoReflect().Descriptor()
	add(result)
	raw := (&pg_query.RawStmt{}).ProtoReflect().Descriptor()
	s.resultStmts, s.rawStmt = num(result, "stmts"), num(raw, "stmt")
	be := (&pg_query.BoolExpr{}).ProtoReflect().Descriptor()
	s.boolExpr = add(be)
	s.nodeBoolExpr = num(node, "bool_expr")
	s.boolop, s.args = num(be, "boolop"), num(be, "args")
	return s
}

// onlyStmt returns the encoded statement of an encoded ParseResult holding
// exactly one statement.
func onlyStmt(result []byte) ([]byte, bool) {
	s := wire()
	raw, ok := onlyMessage(result, s.resultStmts)
	if !ok {
		return nil, false
	}
	return onlyMessage(raw, s.rawStmt)
}

// onlyMessage returns the payload of field num of an encoded message that
// holds that field exactly once, length-delimited.
func onlyMessage(msg []byte, num protowire.Number) ([]byte, bool) {
	var payload []byte
	found := 0
	ok := eachField(msg, func(n protowire.Number, t protowire.Type, v []byte) bool {
		if n == num {
			if t != protowire.BytesType {
				return false
			}
			payload = v
			found++
		}
		return true
	})
	return payload, ok && found == 1
}

// eachField calls fn with each field of an encoded message: its number,
// wire type and, for length-delimited fields, the payload (else nil). It
// reports false on malformed input or when fn does.
func eachField(b []byte, fn func(protowire.Number, protowire.Type, []byte) bool) bool {
	for len(b) > 0 {
		n, t, l := protowire.ConsumeTag(b)
		if l < 0 {
			return false
		}
		b = b[l:]
		var v []byte
		if t == protowire.BytesType {
			var m int
			if v, m = protowire.ConsumeBytes(b); m < 0 {
				return false
			}
			l = m
		} else if l = protowire.ConsumeFieldValue(n, t, b); l < 0 {
			return false
		}
		b = b[l:]
		if !fn(n, t, v) {
			return false
		}
	}
	return true
}

// sameTree compares two encoded Nodes as deparseExact's check requires. It
// is the reflection-based check it replaced (clear locations and flatten
// nested AND/OR in both decoded trees, then proto.Equal), computed on the
// encodings, and never more lenient:
//
//   - Each message is read into its fields in field-number order (the
//     order of repeated elements kept): locations are dropped, a scalar
//     without presence that holds its zero value is dropped (decoding
//     gives the same message with or without it), packed and unpacked
//     repeated scalars are read alike, and scalars are compared as
//     decoding would see them (the low 32 bits of an int32 or enum, the
//     bits of a float). Strings and bytes compare byte for byte, messages
//     recursively, and a message that is present but empty differs from an
//     absent one, as with proto.Equal.
//   - Anything decoding would treat more loosely is a difference here: a
//     field number the message does not have (unknown fields), a wire type
//     that does not match the field, a singular field given twice (which
//     decoding would merge or overwrite), malformed bytes.
//   - The args of an AND or OR are flattened: an arg that is a BoolExpr of
//     the same operator holding nothing but its operator, args and
//     location is replaced by its own (flattened) args. The old check
//     flattened such an arg whatever else it held; raw parse trees never
//     hold anything else.
//
// So two encodings that compare equal here decode to trees the old check
// found equal, and the statement printed from one means what the other
// says.
func sameTree(a, b []byte) bool {
	s := wire()
	c := &wireCmp{s: s}
	return c.equal(s.node, a, b)
}

// wireVal is one field of a message being compared.
type wireVal struct {
	num protowire.Number
	v   uint64 // scalars, canonical
	b   []byte // strings, bytes, messages
}

type wireCmp struct {
	s *wireSchema
	// buf holds the fields of the messages being compared: a stack shared
	// by all levels of the recursion, each level truncating it back.
	buf []wireVal
}

// fields appends the canonical fields of an encoded message of type mi to
// c.buf, sorted by number, and returns where they start.
func (c *wireCmp) fields(mi int, b []byte) (int, bool) {
	m := &c.s.msgs[mi]
	start := len(c.buf)
	sorted := true
	var last protowire.Number
	var seen uint64 // singular fields seen, numbers below 64
	var seenHigh [4]protowire.Number
	high := 0
	fail := func() (int, bool) {
		c.buf = c.buf[:start]
		return start, false
	}
	for len(b) > 0 {
		n, t, l := protowire.ConsumeTag(b)
		if l < 0 || int(n) >= len(m.fields) || m.fields[n].kind == wkNone {
			return fail()
		}
		b = b[l:]
		f := &m.fields[n]
		if !f.list {
			// A singular field given twice decodes to its last value (or
			// a merge); refuse rather than model that.
			if n < 64 {
				if seen&(1<<uint(n)) != 0 {
					return fail()
				}
				seen |= 1 << uint(n)
			} else {
				for _, h := range seenHigh[:high] {
					if h == n {
						return fail()
					}
				}
				if high == len(seenHigh) {
					return fail()
				}
				seenHigh[high] = n
				high++
			}
		}
		var val wireVal
		switch t {
		case protowire.BytesType:
			v, l := protowire.ConsumeBytes(b)
			if l < 0 {
				return fail()
			}
			b = b[l:]
			switch f.kind {
			case wkBytes, wkMessage:
				if f.skip || f.implicit && len(v) == 0 {
					continue
				}
				val = wireVal{num: n, b: v}
			default:
				if !f.list {
					return fail()
				}
				// Packed scalars.
				if !f.skip {
					if n < last {
						sorted = false
					}
					last = n
				}
				for len(v) > 0 {
					x, l := scalar(f.kind, v)
					if l < 0 {
						return fail()
					}
					v = v[l:]
					if !f.skip {
						c.buf = append(c.buf, wireVal{num: n, v: x})
					}
				}
				continue
			}
		case protowire.VarintType, protowire.Fixed32Type, protowire.Fixed64Type:
			if f.kind == wkBytes || f.kind == wkMessage || scalarType(f.kind) != t {
				return fail()
			}
			x, l := scalar(f.kind, b)
			if l < 0 {
				return fail()
			}
			b = b[l:]
			if f.skip || f.implicit && x == 0 {
				continue
			}
			val = wireVal{num: n, v: x}
		default:
			return fail()
		}
		if n < last {
			sorted = false
		}
		last = n
		c.buf = append(c.buf, val)
	}
	if !sorted {
		// Stable: repeated elements keep their order.
		part := c.buf[start:]
		sort.SliceStable(part, func(i, j int) bool { return part[i].num < part[j].num })
	}
	return start, true
}

func scalarType(k wireKind) protowire.Type {
	switch k {
	case wkFixed32:
		return protowire.Fixed32Type
	case wkFixed64:
		return protowire.Fixed64Type
	}
	return protowire.VarintType
}

// scalar reads one scalar of kind k from b, in canonical form.
func scalar(k wireKind, b []byte) (uint64, int) {
	switch k {
	case wkFixed32:
		v, l := protowire.ConsumeFixed32(b)
		return uint64(v), l
	case wkFixed64:
		return protowire.ConsumeFixed64(b)
	}
	v, l := protowire.ConsumeVarint(b)
	if l < 0 {
		return 0, l
	}
	switch k {
	case wkVarint32:
		v = uint64(uint32(v))
	case wkZigzag:
		v = uint64(protowire.DecodeZigZag(v))
	case wkZigzag32:
		v = uint64(uint32(protowire.DecodeZigZag(v & math.MaxUint32)))
	case wkBool:
		if v != 0 {
			v = 1
		}
	}
	return v, l
}

// equal compares two encoded messages of type mi.
func (c *wireCmp) equal(mi int, a, b []byte) bool {
	if mi == c.s.boolExpr {
		return c.equalBool(a, b)
	}
	as, ok := c.fields(mi, a)
	if !ok {
		return false
	}
	defer func() { c.buf = c.buf[:as] }()
	bs, ok := c.fields(mi, b)
	if !ok || bs-as != len(c.buf)-bs {
		return false
	}
	n := bs - as
	for i := 0; i < n; i++ {
		// c.buf may move as deeper levels grow it; index it afresh.
		if !c.same(mi, c.buf[as+i], c.buf[bs+i]) {
			return false
		}
	}
	return true
}

// same compares two fields of a message of type mi.
func (c *wireCmp) same(mi int, x, y wireVal) bool {
	if x.num != y.num {
		return false
	}
	switch f := &c.s.msgs[mi].fields[x.num]; f.kind {
	case wkMessage:
		return c.equal(f.msg, x.b, y.b)
	case wkBytes:
		return string(x.b) == string(y.b)
	}
	return x.v == y.v
}

// boolParts is a BoolExpr split for comparison: its operator, its args
// (flattened for AND and OR) and its other fields.
type boolParts struct {
	op    uint64
	args  [][]byte
	other []wireVal
}

func (c *wireCmp) boolParts(b []byte) (boolParts, bool) {
	s := c.s
	start, ok := c.fields(s.boolExpr, b)
	if !ok {
		return boolParts{}, false
	}
	var p boolParts
	for _, v := range c.buf[start:] {
		switch v.num {
		case s.boolop:
			p.op = v.v
		case s.args:
			p.args = append(p.args, v.b)
		default:
			p.other = append(p.other, v)
		}
	}
	c.buf = c.buf[:start]
	if p.op != uint64(pg_query.BoolExprType_AND_EXPR) && p.op != uint64(pg_query.BoolExprType_OR_EXPR) {
		return p, true
	}
	var flat [][]byte
	var add func(args [][]byte) bool
	add = func(args [][]byte) bool {
		for _, a := range args {
			inner, ok := c.nestedBool(a, p.op)
			if !ok {
				return false
			}
			if inner == nil {
				flat = append(flat, a)
				continue
			}
			if !add(inner) {
				return false
			}
		}
		return true
	}
	if !add(p.args) {
		return boolParts{}, false
	}
	p.args = flat
	return p, true
}

// nestedBool returns the args of an encoded Node that is a BoolExpr with
// operator op and nothing but its operator, args and location; nil (and
// true) for any other well-formed Node.
func (c *wireCmp) nestedBool(node []byte, op uint64) ([][]byte, bool) {
	s := c.s
	start, ok := c.fields(s.node, node)
	if !ok {
		return nil, false
	}
	defer func() { c.buf = c.buf[:start] }()
	if len(c.buf)-start != 1 || c.buf[start].num != s.nodeBoolExpr {
		return nil, true
	}
	be := c.buf[start].b
	inner, ok := c.fields(s.boolExpr, be)
	if !ok {
		return nil, false
	}
	var args [][]byte
	sameOp := false
	for _, v := range c.buf[inner:] {
		switch v.num {
		case s.boolop:
			sameOp = v.v == op
		case s.args:
			args = append(args, v.b)
		default:
			return nil, true // holds more: compared as a whole
		}
	}
	if !sameOp {
		return nil, true
	}
	if args == nil {
		args = [][]byte{} // an AND without args: flattened to nothing
	}
	return args, true
}

func (c *wireCmp) equalBool(a, b []byte) bool {
	pa, ok := c.boolParts(a)
	if !ok {
		return false
	}
	pb, ok := c.boolParts(b)
	if !ok || pa.op != pb.op || len(pa.args) != len(pb.args) || len(pa.other) != len(pb.other) {
		return false
	}
	for i := range pa.other {
		if !c.same(c.s.boolExpr, pa.other[i], pb.other[i]) {
			return false
		}
	}
	for i := range pa.args {
		if !c.equal(c.s.node, pa.args[i], pb.args[i]) {
			return false
		}
	}
	return true
}
