package signature_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"contenthub/adapters/signature"
)

// canonicalCases are inputs with the output Python's
// json.dumps(json.loads(x), sort_keys=True, separators=(",", ":")) gives.
// python_test.go checks the same table against a real interpreter.
var canonicalCases = []struct {
	name, in, want string
}{
	{"key order by code point", `{"b":1,"a":2,"A":3,"_":4,"aa":5,"":6}`, `{"":6,"A":3,"_":4,"a":2,"aa":5,"b":1}`},
	{"nested objects sorted", `{"z":{"d":1,"c":[{"y":1,"x":2}]},"a":null}`, `{"a":null,"z":{"c":[{"x":2,"y":1}],"d":1}}`},
	{"keys beyond the BMP sort by code point", `{"\uff00":1,"😀":2,"\ud83d":3,"a":4,"\ue000":5}`, `{"a":4,"\ud83d":3,"\ue000":5,"\uff00":1,"\ud83d\ude00":2}`},
	{"duplicate keys last wins", `{"a":1,"a":2,"b":{"x":1,"x":[1]}}`, `{"a":2,"b":{"x":[1]}}`},
	{"whitespace dropped", " {\n\t\"a\" : [ 1 , 2 ] ,\r\n \"b\" : { } , \"c\" : [ ] }\n", `{"a":[1,2],"b":{},"c":[]}`},
	{"constants", `[true,false,null]`, `[true,false,null]`},

	{"non-ASCII as lower-case \\u", `"é€\u00E9"`, `"\u00e9\u20ac\u00e9"`},
	{"non-BMP as surrogate pair", `"😀\ud83d\ude00\uDBFF\uDFFF"`, `"\ud83d\ude00\ud83d\ude00\udbff\udfff"`},
	{"unpaired surrogates kept", `"\ud83d \ude00x\udc00\ud800"`, `"\ud83d \ude00x\udc00\ud800"`},
	{"short escapes", `"\"\\\b\f\n\r\t\/"`, `"\"\\\b\f\n\r\t/"`},
	{"other controls and DEL", `"\u0000\u001f\u007f\u0080"`, `"\u0000\u001f\u007f\u0080"`},
	{"no escaping of / < > &", `"</script>&amp;"`, `"</script>&amp;"`},
	{"escaped space", `"\u0020"`, `" "`},

	{"integers as written", `[0,-0,12345678901234567890123456789,-98765432109876543210,1]`, `[0,0,12345678901234567890123456789,-98765432109876543210,1]`},
	{"floats keep a fraction", `[8.0,100.0,1000000.0,1e6,0.1,-2.50]`, `[8.0,100.0,1000000.0,1000000.0,0.1,-2.5]`},
	{"fixed up to exponent 15", `[1e15,9999999999999998.0,0.0001]`, `[1000000000000000.0,9999999999999998.0,0.0001]`},
	{"exponent form outside [-4,16)", `[1e16,1E+16,1e-05,123456789012345678.0,1.2345678901234568e+17,1e22,2.5E-7,123.456e-10]`, `[1e+16,1e+16,1e-05,1.2345678901234568e+17,1.2345678901234568e+17,1e+22,2.5e-07,1.23456e-08]`},
	{"three exponent digits", `[1.5e300,1.7976931348623157e308,5e-324]`, `[1.5e+300,1.7976931348623157e+308,5e-324]`},
	{"zeros", `[0.0,-0.0,0e0,-0E-0,1e-400,-1e-400]`, `[0.0,-0.0,0.0,-0.0,0.0,-0.0]`},
	{"shortest round trip", `[0.30000000000000004,0.1e1,3.141592653589793238462643383279]`, `[0.30000000000000004,1.0,3.141592653589793]`},

	{"scalar document", ` "x" `, `"x"`},
	{"byte order mark skipped", "\ufeff{\"a\":1}", `{"a":1}`},
}

func TestCanonicalize(t *testing.T) {
	for _, tc := range canonicalCases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := signature.Canonicalize([]byte(tc.in))
			require.NoError(t, err)
			require.Equal(t, tc.want, string(got))

			again, err := signature.Canonicalize(got)
			require.NoError(t, err)
			require.Equal(t, tc.want, string(again), "canonical form is a fixed point")
		})
	}
}

// notCanonicalizable are refused. The first group is not JSON (Python
// refuses it too); the second is what Python would accept and we refuse by
// design (see Canonicalize): the result would not be JSON, or the body is
// not UTF-8.
var notCanonicalizable = []struct {
	name, in  string
	pythonToo bool
}{
	{"empty", ``, true},
	{"only space", ` `, true},
	{"trailing data", `{} {}`, true},
	{"trailing comma", `[1,]`, true},
	{"unquoted key", `{a:1}`, true},
	{"single quotes", `{'a':1}`, true},
	{"leading zero", `01`, true},
	{"bare minus", `-`, true},
	{"dot without digits", `1.`, true},
	{"exponent without digits", `1e`, true},
	{"leading dot", `.5`, true},
	{"plus sign", `+1`, true},
	{"raw control char", "\"a\tb\"", true},
	{"bad escape", `"\x"`, true},
	{"short \\u", `"\u12"`, true},
	{"bad hex after high surrogate", `"\ud800\u12x4"`, true},
	{"unterminated string", `"abc`, true},
	{"unterminated object", `{"a":1`, true},
	{"missing colon", `{"a" 1}`, true},
	{"truncated literal", `tru`, true},
	{"capitalised literal", `True`, true},
	{"invalid UTF-8", "\"\xff\"", true},
	{"overlong UTF-8", "\"\xc0\xaf\"", true},

	{"NaN", `[NaN]`, false},
	{"Infinity", `[Infinity]`, false},
	{"-Infinity", `[-Infinity]`, false},
	{"float overflow", `{"n":1e400}`, false},
	{"negative float overflow", `[-1.8e308]`, false},
	{"UTF-8 encoded surrogate", "\"\xed\xa0\x80\"", false},
	{"UTF-16 body", "\xff\xfe{\x00}\x00", false},
}

func TestCanonicalizeRefuses(t *testing.T) {
	for _, tc := range notCanonicalizable {
		t.Run(tc.name, func(t *testing.T) {
			_, err := signature.Canonicalize([]byte(tc.in))
			require.ErrorIs(t, err, signature.ErrNotCanonicalizable)
		})
	}
}

func TestCanonicalizeDepthLimit(t *testing.T) {
	nest := func(n int) string { return strings.Repeat("[", n) + strings.Repeat("]", n) }
	got, err := signature.Canonicalize([]byte(nest(1000)))
	require.NoError(t, err)
	require.Equal(t, nest(1000), string(got))

	_, err = signature.Canonicalize([]byte(nest(1001)))
	require.ErrorIs(t, err, signature.ErrNotCanonicalizable)

	_, err = signature.Canonicalize([]byte(strings.Repeat(`{"a":`, 100000)))
	require.ErrorIs(t, err, signature.ErrNotCanonicalizable)
}

func TestCanonicalizeHugeInteger(t *testing.T) {
	// Python ≥ 3.11 refuses over 4300 digits by default; the digits are
	// still what a sender without that limit signed.
	n := "-" + strings.Repeat("9", 5000)
	got, err := signature.Canonicalize([]byte(`{"n":` + n + `}`))
	require.NoError(t, err)
	require.Equal(t, `{"n":`+n+`}`, string(got))
}
