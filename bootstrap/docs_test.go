package bootstrap

import (
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestEveryVariableIsDocumented keeps the configuration tables honest: each
// variable Config reads appears in README.md, docs/webhooks.md and
// .env.example.
func TestEveryVariableIsDocumented(t *testing.T) {
	docs := map[string]string{}
	for _, path := range []string{"../README.md", "../docs/webhooks.md", "../.env.example"} {
		b, err := os.ReadFile(path)
		require.NoError(t, err)
		docs[path] = string(b)
	}
	for _, variable := range configVariables(reflect.TypeOf(Config{})) {
		for path, text := range docs {
			require.True(t, strings.Contains(text, variable), "%s does not mention %s", path, variable)
		}
	}
}

// configVariables lists the variables of a config struct, embedded groups included.
func configVariables(typ reflect.Type) []string {
	var out []string
	for i := range typ.NumField() {
		f := typ.Field(i)
		if f.Anonymous && f.Type.Kind() == reflect.Struct {
			out = append(out, configVariables(f.Type)...)
			continue
		}
		if v := f.Tag.Get("env"); v != "" {
			out = append(out, v)
		}
	}
	return out
}
