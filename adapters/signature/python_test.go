package signature_test

import (
	"bytes"
	"encoding/json"
	"math"
	"math/rand/v2"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"contenthub/adapters/signature"
)

// pythonCanonicalize runs every input through CPython's json module in one
// interpreter and returns the canonical forms; ok[i] is false where Python
// refused input i.
const pythonCanonicalize = `
import base64, json, sys
out = []
for case in json.load(sys.stdin):
    try:
        obj = json.loads(base64.b64decode(case))
        out.append(base64.b64encode(json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()).decode())
    except Exception:
        out.append(None)
json.dump(out, sys.stdout)
`

func runPython(t *testing.T, inputs [][]byte) (canonical [][]byte, ok []bool) {
	t.Helper()
	python, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 is not on PATH; the comparison with CPython's json module is skipped")
	}
	stdin, err := json.Marshal(inputs) // []byte marshals as base64
	require.NoError(t, err)
	cmd := exec.CommandContext(t.Context(), python, "-c", pythonCanonicalize)
	cmd.Stdin = bytes.NewReader(stdin)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.Output()
	require.NoError(t, err, stderr.String())

	var results []*[]byte
	require.NoError(t, json.Unmarshal(stdout, &results))
	require.Len(t, results, len(inputs))
	for _, r := range results {
		if r == nil {
			canonical, ok = append(canonical, nil), append(ok, false)
			continue
		}
		canonical, ok = append(canonical, *r), append(ok, true)
	}
	return canonical, ok
}

func TestCanonicalizeMatchesPython(t *testing.T) {
	var inputs [][]byte
	for _, tc := range canonicalCases {
		inputs = append(inputs, []byte(tc.in))
	}
	for _, tc := range vectorsB {
		inputs = append(inputs, []byte(tc.payload))
	}
	inputs = append(inputs, randomNumberDocuments()...)

	want, ok := runPython(t, inputs)
	for i, in := range inputs {
		require.True(t, ok[i], "python refused %q", in)
		got, err := signature.Canonicalize(in)
		require.NoError(t, err, "%q", in)
		require.Equal(t, string(want[i]), string(got), "input %q", in)
	}
}

// Inputs we refuse are refused by Python too, except the documented
// differences, which Python accepts.
func TestCanonicalizeRefusalsAgainstPython(t *testing.T) {
	var inputs [][]byte
	for _, tc := range notCanonicalizable {
		inputs = append(inputs, []byte(tc.in))
	}
	_, ok := runPython(t, inputs)
	for i, tc := range notCanonicalizable {
		require.Equal(t, !tc.pythonToo, ok[i], "%s: does Python accept %q", tc.name, tc.in)
	}
}

// randomNumberDocuments exercise float parsing and repr over the whole range:
// random bit patterns, random decimal literals, and boundary values.
func randomNumberDocuments() [][]byte {
	rng := rand.New(rand.NewPCG(1, 2))
	var docs [][]byte
	var batch []string
	flush := func() {
		docs = append(docs, []byte("["+strings.Join(batch, ",")+"]"))
		batch = batch[:0]
	}
	for i := range 4000 {
		var lit string
		switch i % 4 {
		case 0: // any finite float64, in Go's shortest form
			f := math.Float64frombits(rng.Uint64())
			if math.IsNaN(f) || math.IsInf(f, 0) {
				continue
			}
			lit = strconv.FormatFloat(f, 'g', -1, 64)
			if !strings.ContainsAny(lit, ".e") {
				lit += ".0"
			}
		case 1: // long decimal literals that need correct rounding
			lit = strconv.FormatUint(rng.Uint64(), 10) + "." + strconv.FormatUint(rng.Uint64(), 10) +
				"e" + strconv.Itoa(rng.IntN(560)-300) // up to about 1e279: no overflow
		case 2: // values near the fixed/exponent boundaries
			lit = strconv.FormatFloat(rng.Float64()*10, 'f', rng.IntN(17), 64) + "e" + strconv.Itoa(rng.IntN(24)-8)
		case 3: // integers of all sizes
			lit = strconv.FormatInt(rng.Int64()>>rng.IntN(63), 10)
		}
		batch = append(batch, lit)
		if len(batch) == 200 {
			flush()
		}
	}
	if len(batch) > 0 {
		flush()
	}
	return docs
}
