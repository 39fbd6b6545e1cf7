package report

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

// A rule's message in JSON is cut as the log cuts it: control characters
// in a label it quotes are shown escaped, and a long one ends in "…".
func TestJSONMessagesAreCutAsInTheLog(t *testing.T) {
	long := "echoes/effort/" + strings.Repeat("é", 5000)
	r := evaluated(FromCommandLine, true, "echoes/intent/x", "echoes/effort/\x1b[31mS", long)
	doc, raw := jsonDoc(t, r)
	for _, rule := range doc.Rules {
		if rule.Rule != "effort" {
			continue
		}
		m := rule.Message
		if strings.ContainsRune(m, 0x1b) || !strings.Contains(m, `\x1b[31mS`) {
			t.Errorf("message %.80q: want the escape shown as \\x1b", m)
		}
		// messageRunes runes kept, the escape's one shown as four, and "…".
		if n := utf8.RuneCountInString(m); n != messageRunes+3+1 || !strings.HasSuffix(m, "…") {
			t.Errorf("message of %d runes, want %d and an ellipsis", n, messageRunes+4)
		}
		return
	}
	t.Fatalf("no effort rule in %s", raw)
}

// jsonDoc writes r as JSON and reads it back: the document, and the bytes
// written.
func jsonDoc(t *testing.T, r Result) (JSONReport, string) {
	t.Helper()
	var buf bytes.Buffer
	if err := JSON(&buf, r); err != nil {
		t.Fatal(err)
	}
	var doc JSONReport
	if err := json.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	return doc, buf.String()
}
