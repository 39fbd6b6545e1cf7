package check

import "strings"

// maxTypos is how many edits apart a label's head may be from a prefix and
// still count as a misspelling of it. Two catch "intnet" and "initative"
// without flagging unrelated labels, which are further away.
const maxTypos = 2

// nearMiss reports whether name looks like a misspelt Echoes label, such as
// "echoes/intnet/feature", which kind it is near, and what follows its
// misspelt prefix. The suggestion is left to the caller, which builds it
// only for the near misses it keeps: a million of them allocate nothing.
func nearMiss(name string, p Prefixes) (kind Kind, rest string, ok bool) {
	bestDist := maxTypos + 1
	for _, k := range p.byKind() {
		slashes := strings.Count(k.prefix, "/")
		// A separator typed wrong ("echoes-intent/feature") moves where
		// the head ends: the loose cut reads it as a "/", and the edit it
		// costs counts like any other.
		strictHead := ""
		for _, loose := range []bool{false, true} {
			head, tail := splitHead(name, slashes, loose)
			if loose && len(head) == len(strictHead) {
				continue // the same cut (both start at 0): the same distance
			}
			strictHead = head
			if len(head) < len(k.prefix)-maxTypos || len(head) > len(k.prefix)+maxTypos {
				continue
			}
			d := editDistance(strings.ToLower(head), strings.ToLower(k.prefix), bestDist)
			if tail != "" && isLooseSeparator(tail[0]) {
				d++ // "echoes/intent-feature": the head is right, its separator is not
			}
			if d > 0 && d < bestDist {
				bestDist, kind, rest = d, k.kind, tail
			}
		}
	}
	if rest != "" && isLooseSeparator(rest[0]) {
		rest = "/" + rest[1:]
	}
	return kind, rest, bestDist <= maxTypos
}

// splitHead cuts name where a prefix with the given number of slashes would
// end: before the next "/" or the first ":". The rest keeps its separator.
// Loose, a "-", "_", ".", "\\" or space also counts as a "/", and so does
// a ":" or "::" before the prefix's last part (GitLab's scoped-label style
// typed for the prefix's own "/": "echoes::intent::feature").
func splitHead(name string, slashes int, loose bool) (head, rest string) {
	seen := 0
	for i := 0; i < len(name); i++ {
		switch c := name[i]; {
		case c == ':' && loose && seen < slashes:
			seen++
			if i+1 < len(name) && name[i+1] == ':' {
				i++
			}
		case c == ':':
			return name[:i], name[i:]
		case c == '/' || loose && isLooseSeparator(c):
			if seen == slashes {
				return name[:i], name[i:]
			}
			seen++
		}
	}
	return name, ""
}

// isLooseSeparator is a character typed for the "/" of a prefix.
func isLooseSeparator(c byte) bool { return c == '-' || c == '_' || c == '.' || c == '\\' || c == ' ' }

// EditDistance is editDistance for callers outside the rules (a command
// name typed wrong): the distance of a and b, or limit when it is that or
// more.
func EditDistance(a, b string, limit int) int { return editDistance(a, b, limit) }

// editDistance is the optimal-string-alignment distance (Levenshtein with
// adjacent transpositions, so "intnet" is one edit from "intent"). It stops
// early once the distance reaches limit, since labels can be long and only
// near misses matter.
func editDistance(a, b string, limit int) int {
	// Labels and prefixes are short: keep their runes and the three rows
	// on the stack, so that checking thousands of labels allocates nothing.
	var bufA, bufB [64]rune
	var rows [3][65]int
	ra, rb := appendRunes(bufA[:0], a), appendRunes(bufB[:0], b)
	if d := len(ra) - len(rb); d >= limit || -d >= limit {
		return limit
	}
	n := len(rb) + 1
	prev2, prev, cur := rows[0][:0], rows[1][:0], rows[2][:0]
	if n > len(rows[0]) {
		prev2, prev, cur = make([]int, 0, n), make([]int, 0, n), make([]int, 0, n)
	}
	prev2, prev, cur = prev2[:n], prev[:n], cur[:n]
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		rowMin := cur[0]
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
			rowMin = min(rowMin, cur[j])
		}
		if rowMin >= limit {
			return limit
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return min(prev[len(rb)], limit)
}

// appendRunes is []rune(s) into buf, which keeps it off the heap when s fits.
func appendRunes(buf []rune, s string) []rune {
	for _, r := range s {
		buf = append(buf, r)
	}
	return buf
}
