package rerun

import (
	"fmt"
	"strconv"
	"strings"

	"gitlab.com/echoeshq/echoes-labels/exit"
)

// SettingWatch is the flag a bad --watch entry is reported under.
const SettingWatch = "--watch"

// watchKind says what a --watch entry names.
type watchKind int

const (
	// watchPath is a path: a project (matched exactly) or a group (matched
	// as the prefix "group/"); GitLab tells which when the sweep asks it.
	watchPath watchKind = iota
	// watchGroupPath is "group:acme/platform": a group by its path.
	watchGroupPath
	// watchProjectPath is "project:acme/api": a project by its path.
	watchProjectPath
	// watchGroupID is "group:42": a group by its numeric id.
	watchGroupID
	// watchProjectID is "project:42": a project by its numeric id.
	watchProjectID
)

// WatchEntry is one --watch entry, parsed: what it names and how. The
// intake uses it as the allow-list (allows), the sweep as what to list
// (ref, isGroup).
type WatchEntry struct {
	kind watchKind
	id   int64  // watchGroupID, watchProjectID
	path string // the other kinds: no slash at either end
}

// ref is the entry as GitLab's API takes it: the path or the id.
func (w WatchEntry) ref() string {
	if w.id > 0 {
		return strconv.FormatInt(w.id, 10)
	}
	return w.path
}

// isGroup is true or false when the entry says what it is; known is false
// for a bare path, which may be either.
func (w WatchEntry) isGroup() (group, known bool) {
	switch w.kind {
	case watchGroupPath, watchGroupID:
		return true, true
	case watchProjectPath, watchProjectID:
		return false, true
	}
	return false, false
}

// String is the entry as it was written (normalised), for the log.
func (w WatchEntry) String() string {
	switch w.kind {
	case watchGroupPath, watchGroupID:
		return "group:" + w.ref()
	case watchProjectPath, watchProjectID:
		return "project:" + w.ref()
	}
	return w.path
}

// ParseWatch reads the --watch/ECHOES_WATCH entries. Each one is
//
//	acme/platform          a group or a project, by path (a group covers its subgroups)
//	group:acme/platform    a group, by path
//	project:acme/api       a project, by path
//	group:42               a group, by id
//	project:1234           a project, by id
//
// The list is required: no entry at all is refused, as every project the
// token reaches is never what an operator meant. Spaces around an entry
// and slashes at its ends are trimmed; anything else that is not one of
// the forms above is refused: an empty entry (a,,b), a URL (give its
// path), another prefix (grp:x), a path with a colon, a space or a
// character GitLab's paths do not have, and a bare number (GitLab numbers
// groups and projects apart, so "42" can name both). The error is an
// *exit.Error (code 2) naming every bad entry and why, with the forms.
func ParseWatch(entries []string) ([]WatchEntry, error) {
	var out []WatchEntry
	var bad []string
	for _, raw := range entries {
		e := strings.TrimSpace(raw)
		w, why := parseWatchEntry(e)
		if why != "" {
			bad = append(bad, strconv.Quote(Clip(e))+" ("+why+")")
			continue
		}
		out = append(out, w)
	}
	switch {
	case len(bad) > 0:
		what := "entry %s is"
		if len(bad) > 1 {
			what = "entries %s are"
		}
		return out, exit.BadSetting(SettingWatch,
			"--watch/ECHOES_WATCH "+fmt.Sprintf(what, strings.Join(bad, ", "))+" not accepted",
			WatchForms)
	case len(out) == 0:
		return nil, exit.BadSetting(SettingWatch,
			"--watch/ECHOES_WATCH is required: it names the groups and projects to act on, and nothing else is touched",
			WatchForms)
	}
	return out, nil
}

// WatchForms is the fix of a bad or missing --watch: the forms accepted.
const WatchForms = "set ECHOES_WATCH (--watch) to the groups and projects to act on, comma-separated, each a path (group/sub: a group and its subgroups, or a project) or an id written group:42 or project:42; group:PATH and project:PATH say which a path is"

// pathSegment says whether seg is one segment of a GitLab path: letters,
// digits, '_', '-' and '.', not starting with '-' or '.' nor ending with
// '.' (GitLab's namespace and project path rule); so never "." or "..",
// which a proxy could resolve into another URL.
func pathSegment(seg string) bool {
	if strings.HasPrefix(seg, ".") || strings.HasSuffix(seg, ".") {
		return false
	}
	for i, r := range seg {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '_', r == '.':
		case r == '-' && i > 0:
		default:
			return false
		}
	}
	return seg != ""
}

// parseWatchEntry parses one trimmed entry; why says what is wrong with
// it, "" when it is accepted.
func parseWatchEntry(e string) (WatchEntry, string) {
	if e == "" {
		return WatchEntry{}, "an empty entry: a comma too many?"
	}
	if strings.Contains(e, "://") {
		p := e[strings.Index(e, "://")+3:]
		if i := strings.IndexByte(p, '/'); i >= 0 {
			p = strings.Trim(p[i+1:], "/")
		} else {
			p = ""
		}
		if i := strings.Index(p, "/-/"); i >= 0 {
			p = p[:i]
		}
		if p != "" {
			return WatchEntry{}, fmt.Sprintf("a URL: give the path %s", Clip(p))
		}
		return WatchEntry{}, "a URL: give the group's or project's path"
	}
	kind := watchPath
	switch {
	case strings.HasPrefix(e, "group:"):
		kind, e = watchGroupPath, strings.TrimPrefix(e, "group:")
	case strings.HasPrefix(e, "project:"):
		kind, e = watchProjectPath, strings.TrimPrefix(e, "project:")
	case strings.Contains(e, ":"):
		return WatchEntry{}, "the only prefixes are group: and project:"
	}
	e = strings.Trim(strings.TrimSpace(e), "/")
	switch {
	case e == "":
		return WatchEntry{}, "no path or id after the prefix"
	case strings.Contains(e, ":"):
		return WatchEntry{}, "a path has no colon"
	}
	if isDigits(e) {
		id, err := strconv.ParseInt(e, 10, 64)
		if err != nil || id <= 0 {
			return WatchEntry{}, "not an id GitLab gives"
		}
		switch kind {
		case watchGroupPath:
			return WatchEntry{kind: watchGroupID, id: id}, ""
		case watchProjectPath:
			return WatchEntry{kind: watchProjectID, id: id}, ""
		}
		return WatchEntry{}, "a bare number can be a group or a project: write group:" + e + " or project:" + e
	}
	for _, seg := range strings.Split(e, "/") {
		if !pathSegment(seg) {
			return WatchEntry{}, "not a GitLab path: a path is segments of letters, digits, _, - and . joined by /"
		}
	}
	return WatchEntry{kind: kind, path: e}, ""
}

func isDigits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return s != ""
}

// allows says whether a delivery for the project (its id and
// path_with_namespace, either may be unknown: 0, "") is inside the
// entry. A group by id cannot be told from a payload, which names no
// group id: groupPath gives the group's full path, which the start-up
// check asks GitLab (Engine.ResolveGroups), "" until then, and the entry
// matches nothing meanwhile (the service is not ready meanwhile either).
func (w WatchEntry) allows(projectID int64, projectPath string, groupPath func(id int64) string) bool {
	under := func(group string) bool {
		return group != "" && projectPath != "" && strings.HasPrefix(strings.ToLower(projectPath), strings.ToLower(group)+"/")
	}
	same := func(p string) bool { return projectPath != "" && strings.EqualFold(projectPath, p) }
	switch w.kind {
	case watchProjectID:
		return projectID == w.id
	case watchGroupID:
		return groupPath != nil && under(groupPath(w.id))
	case watchGroupPath:
		return under(w.path)
	case watchProjectPath:
		return same(w.path)
	}
	return same(w.path) || under(w.path)
}

// watchAllows applies the allow-list: with no entry, every project.
func watchAllows(entries []WatchEntry, projectID int64, projectPath string, groupPath func(id int64) string) bool {
	if len(entries) == 0 {
		return true
	}
	for _, w := range entries {
		if w.allows(projectID, projectPath, groupPath) {
			return true
		}
	}
	return false
}

// WatchStrings are the entries as the log shows them.
func WatchStrings(entries []WatchEntry) []string {
	var out []string
	for _, w := range entries {
		out = append(out, w.String())
	}
	return out
}
