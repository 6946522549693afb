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
	typ := reflect.TypeOf(Config{})
	for i := range typ.NumField() {
		variable := typ.Field(i).Tag.Get("env")
		for path, text := range docs {
			require.True(t, strings.Contains(text, variable), "%s does not mention %s", path, variable)
		}
	}
}
