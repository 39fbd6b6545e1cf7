// Package printable makes untrusted text (label names, GitLab's error
// messages) safe to put in a CI log: one line, no terminal escapes, bounded.
package printable

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxRunes is how much of one untrusted string a report shows. Label names
// on GitLab are at most 255 characters; anything longer was not a label.
const MaxRunes = 256

// String returns s with control characters (ANSI escapes, newlines, carriage
// returns, bidi overrides) shown as Go escapes, invalid UTF-8 replaced, and
// at most MaxRunes runes kept.
func String(s string) string {
	return Truncate(s, MaxRunes)
}

// Truncate is String with a chosen bound.
func Truncate(s string, maxRunes int) string {
	if isPlain(s) && utf8.RuneCountInString(s) <= maxRunes {
		return s
	}
	var b strings.Builder
	n := 0
	for i, r := range s {
		if n == maxRunes {
			b.WriteString("…")
			break
		}
		n++
		switch {
		case r == utf8.RuneError && isInvalidAt(s, i):
			b.WriteRune(utf8.RuneError)
		case needsEscape(r):
			b.WriteString(escape(r))
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

func isInvalidAt(s string, i int) bool {
	r, size := utf8.DecodeRuneInString(s[i:])
	return r == utf8.RuneError && size <= 1
}

func isPlain(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if needsEscape(r) {
			return false
		}
	}
	return true
}

// needsEscape is true for runes that move the cursor, change colours or
// reorder text on a terminal or in GitLab's log viewer, and for the
// invisible format characters (Unicode's Cf: U+200B, U+2060, U+FEFF, the
// bidi controls, …), which make "ech\u200boes/intent/feature" print like
// the real label while it counts as nothing.
func needsEscape(r rune) bool {
	return unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || unicode.Is(unicode.Bidi_Control, r) ||
		r == '\u2028' || r == '\u2029'
}

func escape(r rune) string {
	const hex = "0123456789abcdef"
	if r <= 0xff {
		return `\x` + string(hex[r>>4]) + string(hex[r&0xf])
	}
	return `\u` + string(hex[r>>12&0xf]) + string(hex[r>>8&0xf]) + string(hex[r>>4&0xf]) + string(hex[r&0xf])
}
