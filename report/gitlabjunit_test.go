package report

import (
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
)

// A small port of how GitLab reads a JUnit report, to test ours the way the
// merge request's test report sees it, not the way we write it.
//
// Sources (read 2026-11, gitlabhq/gitlabhq@d23f0cff):
//   - lib/gitlab/ci/parsers/test/junit.rb: parse! L11-28 (XmlConverter, then
//     all_cases), all_cases L38-53, each_case L55-63, create_test_case
//     L65-83: a case is failed if it has a failure key (shown: the failure,
//     then "System Out:\n\n" + system_out), error likewise, skipped if it
//     has a skipped key (shown: the skipped value alone), else success with
//     nothing shown.
//   - lib/gitlab/xml_converter.rb: Nokogiri's to_hash, normalize_keys
//     (system-out becomes system_out), then ActiveSupport::XMLConverter#to_h.
//   - activesupport lib/active_support/xml_mini/nokogiri.rb Node#to_hash:
//     attributes and child elements become keys (repeats an array), text
//     and CDATA go in "__content__", dropped when blank beside other keys.
//   - activesupport lib/active_support/core_ext/hash/conversions.rb
//     XMLConverter#process_hash: a hash with present __content__ becomes
//     that text (its attributes are lost, typecast by a "type" attribute);
//     with type="string" and nothing else, ""; a blank hash becomes nil;
//     otherwise it stays a hash, so <skipped message="x"/> is a Hash.

// gitlabCase is what GitLab keeps of a test case.
type gitlabCase struct {
	Name, Classname, Suite string
	Status                 string // success, failed, error, skipped
	SystemOutput           any    // what the test report shows: a string, or worse
}

// errTypecast flags a "type" attribute ActiveSupport would parse the text
// with (XmlMini::PARSING) or refuse (DISALLOWED_TYPES): ours must be neither.
var errTypecast = errors.New("a type attribute ActiveSupport would typecast or refuse")

var typecastTypes = map[string]bool{"symbol": true, "date": true, "datetime": true, "dateTime": true,
	"integer": true, "float": true, "decimal": true, "boolean": true, "string": true,
	"base64Binary": true, "binary": true, "file": true, "yaml": true, "array": true}

func parseLikeGitLab(data []byte) ([]gitlabCase, error) {
	root, err := nokogiriToHash(data)
	if err != nil {
		return nil, err
	}
	conv, err := deepToH(root)
	if err != nil {
		return nil, err
	}
	var out []gitlabCase
	var allCases func(node any, parent bool)
	allCases = func(node any, parent bool) {
		for _, n := range flatten(node) {
			h, ok := n.(map[string]any)
			if !ok {
				continue
			}
			if !parent {
				allCases(h["testsuites"], true)
			}
			if parent {
				for _, tc := range flatten(h["testcase"]) {
					if c, ok := tc.(map[string]any); ok {
						out = append(out, createTestCase(c, h["name"]))
					}
				}
			}
			allCases(h["testsuite"], true)
		}
	}
	allCases(conv, false)
	return out, nil
}

func createTestCase(data map[string]any, suite any) gitlabCase {
	c := gitlabCase{Name: str(data["name"]), Classname: str(data["classname"]), Suite: str(suite), Status: "success"}
	var extra []any
	if v, ok := data["system_out"]; ok {
		extra = append(extra, "System Out:\n\n"+rubyInterpolate(v))
	}
	if v, ok := data["system_err"]; ok {
		extra = append(extra, "System Err:\n\n"+rubyInterpolate(v))
	}
	join := func(first any) any {
		parts := []string{}
		for _, p := range append([]any{first}, extra...) {
			if p != nil {
				parts = append(parts, rubyInterpolate(p))
			}
		}
		if _, isHash := first.(map[string]any); isHash {
			return first // shown as a Hash's inspect: not text
		}
		return strings.Join(parts, "\n\n")
	}
	if v, ok := data["failure"]; ok {
		c.Status, c.SystemOutput = "failed", join(v)
	} else if v, ok := data["error"]; ok {
		c.Status, c.SystemOutput = "error", join(v)
	} else if v, ok := data["skipped"]; ok {
		c.Status, c.SystemOutput = "skipped", v
	}
	return c
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

func rubyInterpolate(v any) string {
	if v == nil {
		return ""
	}
	if s, ok := v.(string); ok {
		return s
	}
	return fmt.Sprintf("%v", v)
}

func flatten(v any) []any {
	switch v := v.(type) {
	case nil:
		return nil
	case []any:
		var out []any
		for _, x := range v {
			out = append(out, flatten(x)...)
		}
		return out
	}
	return []any{v}
}

// nokogiriToHash is Node#to_hash over the whole document, keys normalized.
func nokogiriToHash(data []byte) (map[string]any, error) {
	dec := xml.NewDecoder(strings.NewReader(string(data)))
	root := map[string]any{}
	stack := []map[string]any{root}
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			parent := stack[len(stack)-1]
			node := map[string]any{}
			key := strings.ReplaceAll(tok.Name.Local, "-", "_")
			switch old := parent[key].(type) {
			case nil:
				parent[key] = node
			case []any:
				parent[key] = append(old, node)
			default:
				parent[key] = []any{old, node}
			}
			for _, a := range tok.Attr {
				node[strings.ReplaceAll(a.Name.Local, "-", "_")] = a.Value
			}
			stack = append(stack, node)
		case xml.CharData:
			if len(stack) > 1 {
				node := stack[len(stack)-1]
				s, _ := node["__content__"].(string)
				node["__content__"] = s + string(tok)
			}
		case xml.EndElement:
			node := stack[len(stack)-1]
			if c, ok := node["__content__"].(string); ok && len(node) > 1 && strings.TrimSpace(c) == "" {
				delete(node, "__content__")
			}
			stack = stack[:len(stack)-1]
		}
	}
	return root, nil
}

// deepToH is XMLConverter#deep_to_h.
func deepToH(v any) (any, error) {
	switch v := v.(type) {
	case map[string]any:
		return processHash(v)
	case []any:
		out := make([]any, len(v))
		for i, x := range v {
			y, err := deepToH(x)
			if err != nil {
				return nil, err
			}
			out[i] = y
		}
		if len(out) == 1 {
			return out[0], nil
		}
		return out, nil
	}
	return v, nil
}

func processHash(h map[string]any) (any, error) {
	if t, ok := h["type"].(string); ok && typecastTypes[t] {
		return nil, fmt.Errorf("%w: type=%q", errTypecast, t)
	}
	content, hasContent := h["__content__"].(string)
	switch {
	case hasContent && (len(h) == 1 || strings.TrimSpace(content) != ""):
		return content, nil
	case len(h) == 0:
		return nil, nil
	case len(h) == 1 && h["type"] != nil:
		return nil, nil // garbage?: a type and nothing else
	}
	out := map[string]any{}
	for k, x := range h {
		y, err := deepToH(x)
		if err != nil {
			return nil, err
		}
		out[k] = y
	}
	return out, nil
}

// TestGitLabJUnitPort pins the port on the behaviour the issue describes.
func TestGitLabJUnitPort(t *testing.T) {
	cases, err := parseLikeGitLab([]byte(`<testsuites><testsuite name="s">
  <testcase name="pass"><system-out>hidden</system-out></testcase>
  <testcase name="attr-only"><skipped message="why"/></testcase>
  <testcase name="text"><skipped message="why">shown</skipped></testcase>
  <testcase name="bare"><skipped/></testcase>
  <testcase name="fail"><failure message="m" type="missing">body</failure><system-out>out</system-out></testcase>
</testsuite></testsuites>`))
	if err != nil {
		t.Fatal(err)
	}
	want := []gitlabCase{
		{Name: "pass", Suite: "s", Status: "success"},
		{Name: "attr-only", Suite: "s", Status: "skipped", SystemOutput: map[string]any{"message": "why"}},
		{Name: "text", Suite: "s", Status: "skipped", SystemOutput: "shown"},
		{Name: "bare", Suite: "s", Status: "skipped"},
		{Name: "fail", Suite: "s", Status: "failed", SystemOutput: "body\n\nSystem Out:\n\nout"},
	}
	if fmt.Sprint(cases) != fmt.Sprint(want) {
		t.Fatalf("parsed\n%v\nwant\n%v", cases, want)
	}
	if _, err := parseLikeGitLab([]byte(`<testsuites><testsuite><testcase><failure type="integer">1</failure></testcase></testsuite></testsuites>`)); !errors.Is(err, errTypecast) {
		t.Fatalf("a typecast type went unnoticed: %v", err)
	}
}
