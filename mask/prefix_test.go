package mask

import (
	"testing"

	"gitlab.com/echoeshq/echoes-labels/cienv"
)

// A secret that is only a token prefix (--webhook-secret whsec_, refused
// at start as too short) is not masked: it would hide the word the
// error's own fix names, and hides nothing.
func TestBarePrefixIsNotASecret(t *testing.T) {
	s := FromEnv(cienv.Map(nil), []string{"serve", "--webhook-secret", "whsec_", "--token", "GLPAT-"})
	msg := "copy the signing token as GitLab shows it: whsec_ then base64; a token starts glpat-"
	if got := s.Mask(msg); got != msg {
		t.Errorf("masked %q, want it unchanged", got)
	}
	if got := s.With("whsec_abc").Mask("key whsec_abc"); got != "key "+Replacement {
		t.Errorf("a secret with more than the prefix: %q, want it masked", got)
	}
}
