package journal

import (
	"fmt"
	"math"
)

// ValueKind is the storage class of a Value.
type ValueKind uint8

// Value kinds. PostgreSQL values are always Null or Text (the server's text
// representation, which round-trips exactly through the type's input
// function); SQLite values use the storage class SQLite reports.
const (
	Null ValueKind = iota
	Int
	Float
	Text
	Bytes
)

// Value is one column value of a row image. The zero Value is SQL NULL.
type Value struct {
	K ValueKind
	I int64   // K == Int
	F float64 // K == Float
	S string  // K == Text; any bytes (not necessarily valid UTF-8)
	B []byte  // K == Bytes
}

// NullValue, IntValue, FloatValue, TextValue and BytesValue build Values.
func NullValue() Value           { return Value{} }
func IntValue(i int64) Value     { return Value{K: Int, I: i} }
func FloatValue(f float64) Value { return Value{K: Float, F: f} }
func TextValue(s string) Value   { return Value{K: Text, S: s} }
func BytesValue(b []byte) Value  { return Value{K: Bytes, B: b} }
func (v Value) IsNull() bool     { return v.K == Null }

// Equal reports whether two values are identical in kind and content.
// Floats compare by bit pattern so that NaN equals NaN and -0 differs from 0:
// a row is unchanged only if every bit is unchanged.
func (v Value) Equal(w Value) bool {
	if v.K != w.K {
		return false
	}
	switch v.K {
	case Null:
		return true
	case Int:
		return v.I == w.I
	case Float:
		return floatBits(v.F) == floatBits(w.F)
	case Text:
		return v.S == w.S
	case Bytes:
		return string(v.B) == string(w.B)
	}
	return false
}

// String renders the value for people (not for SQL).
func (v Value) String() string {
	switch v.K {
	case Null:
		return "NULL"
	case Int:
		return fmt.Sprint(v.I)
	case Float:
		return fmt.Sprint(v.F)
	case Text:
		return v.S
	case Bytes:
		return fmt.Sprintf("x'%X'", v.B)
	}
	return "?"
}

// RowsEqual reports whether two rows hold identical values.
func RowsEqual(a, b []Value) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !a[i].Equal(b[i]) {
			return false
		}
	}
	return true
}

func floatBits(f float64) uint64 { return math.Float64bits(f) }
