package printable

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestString(t *testing.T) {
	tests := []struct{ in, want string }{
		{"echoes/intent/feature", "echoes/intent/feature"},
		{"échos/intent/fête", "échos/intent/fête"},
		{"\x1b[31mred\x1b[0m", `\x1b[31mred\x1b[0m`},
		{"a\nb\rc\td", `a\x0ab\x0dc\x09d`},
		{"x\u202ey", `x\u202ey`},
		{"ech\u200boes/intent/feature", `ech\u200boes/intent/feature`},
		{"a\u2060b\ufeffc\u00add", `a\u2060b\ufeffc\xadd`},
		{"bad\xffutf8", "bad\ufffdutf8"},
		{"\x00", `\x00`},
	}
	for _, tt := range tests {
		if got := String(tt.in); got != tt.want {
			t.Errorf("String(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestTruncate(t *testing.T) {
	long := strings.Repeat("é", 10000)
	got := String(long)
	if n := utf8.RuneCountInString(got); n != MaxRunes+1 || !strings.HasSuffix(got, "…") {
		t.Errorf("10,000 runes came out as %d runes ending %q", n, got[len(got)-6:])
	}
	if got := Truncate("abcdef", 3); got != "abc…" {
		t.Errorf("Truncate = %q", got)
	}
}

func FuzzString(f *testing.F) {
	for _, s := range []string{"echoes/intent/x", "\x1b]0;title\x07", "a\nb", "\xff\xfe", strings.Repeat("z", 300)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := String(s)
		if !utf8.ValidString(got) {
			t.Fatalf("String(%q) is not valid UTF-8", s)
		}
		for _, r := range got {
			if needsEscape(r) {
				t.Fatalf("String(%q) = %q keeps control rune %U", s, got, r)
			}
		}
		if utf8.RuneCountInString(got) > MaxRunes*6+1 {
			t.Fatalf("String(%q) is %d runes long", s, utf8.RuneCountInString(got))
		}
	})
}
