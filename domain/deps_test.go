package domain_test

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestDomainImportsOnlyTheStandardLibrary keeps domain pure (§2): no
// framework, driver or other module may creep into its dependency graph.
func TestDomainImportsOnlyTheStandardLibrary(t *testing.T) {
	goCmd, err := exec.LookPath("go")
	if err != nil {
		t.Skip("the go command is not on PATH")
	}
	// -deps lists the package itself and everything it imports (tests excluded).
	cmd := exec.Command(goCmd, "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", ".")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "go list: %s", out)

	nonStandard := strings.Fields(string(out))
	require.Equal(t, []string{"contenthub/domain"}, nonStandard,
		"domain may import the standard library only")
}
