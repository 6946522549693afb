package application_test

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestApplicationImportsOnlyDomainPortsAndZap keeps the use cases off the
// wire: besides domain, ports and zap only the standard library, and of it
// nothing of HTTP (headers, status codes and body formats are the adapters').
func TestApplicationImportsOnlyDomainPortsAndZap(t *testing.T) {
	goCmd, err := exec.LookPath("go")
	if err != nil {
		t.Skip("the go command is not on PATH")
	}
	// The package's own imports (tests excluded), then which of them are standard.
	out, err := exec.Command(goCmd, "list", "-f", `{{join .Imports "\n"}}`, ".").CombinedOutput()
	require.NoError(t, err, "go list: %s", out)
	imports := strings.Fields(string(out))
	args := append([]string{"list", "-f", "{{.ImportPath}} {{.Standard}}"}, imports...)
	out, err = exec.Command(goCmd, args...).CombinedOutput()
	require.NoError(t, err, "go list: %s", out)

	allowed := map[string]bool{"contenthub/domain": true, "contenthub/ports": true, "go.uber.org/zap": true}
	var refused []string
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		path, standard, _ := strings.Cut(line, " ")
		wire := path == "net/http" || strings.HasPrefix(path, "net/http/")
		if wire || (standard != "true" && !allowed[path]) {
			refused = append(refused, path)
		}
	}
	require.Empty(t, refused, "application may import domain, ports, zap and the standard library but net/http")
}
