package serve

import (
	"context"
	"errors"
	"strings"
	"testing"

	"gitlab.com/echoeshq/echoes-labels/exit"
)

// A webhook secret or signing key under 16 bytes is refused at start,
// with a way to make one; --webhook-secret whsec_ names whsec_ in its
// message.
func TestShortSecretsRefused(t *testing.T) {
	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"secret of 3", []string{"--webhook-secret", "abc"}, settingSecret},
		{"secret of 15", []string{"--webhook-secret", strings.Repeat("a", 15)}, settingSecret},
		{"signing key of 8 bytes", []string{"--webhook-secret", testSecret, "--webhook-signing-token", "whsec_MTIzNDU2Nzg="}, settingSigning},
		{"signing token of 10", []string{"--webhook-secret", testSecret, "--webhook-signing-token", "0123456789"}, settingSigning},
		// 18 characters, but as a signing token its key is "secret123".
		{"a secret written whsec_ with a key of 9 bytes", []string{"--webhook-secret", "whsec_c2VjcmV0MTIz"}, settingSecret},
	} {
		t.Run(c.name, func(t *testing.T) {
			clearEnv(t)
			_, err := parse(t, append([]string{"--token", "glpat-abcdefghijkl", "--watch", path}, c.args...)...).config(nil)
			var e *exit.Error
			if !errors.As(err, &e) || e.ExitCode() != 2 || e.Setting != c.want || !strings.Contains(e.Fix, "openssl rand -hex 32") {
				t.Errorf("%v: want exit 2 on %s with the openssl fix", err, c.want)
			}
		})
	}
	clearEnv(t)
	if _, err := parse(t, "--token", "glpat-abcdefghijkl", "--watch", path, "--webhook-secret", strings.Repeat("a", 16)).config(nil); err != nil {
		t.Errorf("a secret of 16: %v", err)
	}
	err := parse(t, "--token", "glpat-abcdefghijkl", "--webhook-secret", "whsec_").Run(context.Background(), &logBuffer{}, nil)
	var e *exit.Error
	if !errors.As(err, &e) || !strings.Contains(e.Cause, "whsec_") || !strings.Contains(e.Fix, "whsec_") {
		t.Errorf("--webhook-secret whsec_: %v, want whsec_ named in the cause and the fix", err)
	}
}
