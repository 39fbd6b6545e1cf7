package templates

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"go.yaml.in/yaml/v3"
)

// schemaRel is where scripts/ci-ship.sh writes GitLab's CI schema, taken
// from the gitlab-ci-local it installs (scripts/ci-schema-from-gcl.mjs).
var schemaRel = filepath.Join(".cache", "tools", "gitlab-ci-schema.json")

// vendoredSchema is the same file, extracted from the gitlab-ci-local that
// scripts/ci-ship.sh pins and kept in the repository, so that a plain
// `go test ./...` on a fresh clone validates against GitLab's schema rather
// than skipping (templates/testdata/SOURCE.md says where it comes from).
const vendoredSchema = "testdata/gitlab-ci-schema.json"

// findSchema returns the path of GitLab's CI schema: ECHOES_CI_SCHEMA (which
// scripts/ci-ship.sh sets to the copy it has just extracted), else schemaRel
// under the repository when present, else the copy in testdata. It never
// skips: with none of them the test fails and says how to get one.
func findSchema(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("ECHOES_CI_SCHEMA"); p != "" {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("ECHOES_CI_SCHEMA=%s: %v", p, err)
		}
		return p
	}
	p := filepath.Join(repoRoot(t), schemaRel)
	if _, err := os.Stat(p); err == nil {
		return p
	}
	if _, err := os.Stat(vendoredSchema); err != nil {
		t.Fatalf("GitLab's CI schema is neither at %s nor at templates/%s: restore templates/%s (git checkout), run `bash scripts/ci-ship.sh schema`, or set ECHOES_CI_SCHEMA to a copy of GitLab's ci.json", p, vendoredSchema, vendoredSchema)
	}
	return vendoredSchema
}

// TestVendoredSchemaIsCurrent checks that the schema kept in testdata is
// GitLab's and, when the one scripts/ci-ship.sh extracts from the pinned
// gitlab-ci-local is at hand (ECHOES_CI_SCHEMA or schemaRel), that the two
// are the same, so that bumping the pin without refreshing the copy fails.
func TestVendoredSchemaIsCurrent(t *testing.T) {
	read := func(path string) any {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var v any
		if err := json.Unmarshal(b, &v); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		return v
	}
	kept := read(vendoredSchema)
	if m, _ := kept.(map[string]any); m == nil || m["$id"] != "https://gitlab.com/.gitlab-ci.yml" {
		t.Fatalf("templates/%s is not GitLab's CI schema (its $id is not https://gitlab.com/.gitlab-ci.yml): see templates/testdata/SOURCE.md", vendoredSchema)
	}
	fresh := os.Getenv("ECHOES_CI_SCHEMA")
	if fresh == "" {
		fresh = filepath.Join(repoRoot(t), schemaRel)
		if _, err := os.Stat(fresh); err != nil {
			return // nothing extracted here to compare with; CI compares (scripts/ci-ship.sh schema)
		}
	}
	if !reflect.DeepEqual(read(fresh), kept) {
		t.Fatalf("templates/%s differs from %s, the schema of the pinned gitlab-ci-local: cp %s templates/%s", vendoredSchema, fresh, fresh, vendoredSchema)
	}
}

// repoRoot is the folder that holds go.mod.
func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test's directory")
		}
		dir = parent
	}
}

// ciSchema validates a CI configuration and a spec: header.
type ciSchema struct {
	config, spec *jsonschema.Schema
}

func loadSchema(t *testing.T, path string) ciSchema {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		t.Fatalf("%s is not JSON: %v", path, err)
	}
	const url = "https://gitlab.com/.gitlab-ci.yml"
	c := jsonschema.NewCompiler()
	if err := c.AddResource(url, doc); err != nil {
		t.Fatal(err)
	}
	config, err := c.Compile(url)
	if err != nil {
		t.Fatalf("compile %s: %v", path, err)
	}
	spec, err := c.Compile(url + "#/properties/spec")
	if err != nil {
		t.Fatalf("compile %s#/properties/spec: %v", path, err)
	}
	return ciSchema{config: config, spec: spec}
}

// configFile is a CI file split into its optional spec: header and its body.
type configFile struct {
	header map[string]any // nil without a header
	body   any
	// inputErr is what GitLab would refuse in the inputs' values (regex:,
	// options:); the body is still built with those values so the schema
	// checks it too.
	inputErr error
}

// inputSpec is one entry of spec:inputs.
type inputSpec struct {
	Type        string `yaml:"type"`
	Default     any    `yaml:"default"`
	Description string `yaml:"description"`
	Regex       string `yaml:"regex"`
	Options     []any  `yaml:"options"`
}

var (
	inputRef     = regexp.MustCompile(`\$\[\[\s*inputs\.([A-Za-z0-9_-]+)\s*(\|[^\]]*)?\]\]`)
	componentRef = regexp.MustCompile(`\$\[\[\s*component\.([a-z_]+)\s*\]\]`)
	anyRef       = regexp.MustCompile(`\$\[\[[^\]]*\]\]`)
)

// componentValues are plausible values for $[[ component.x ]], which GitLab
// fills in only when the file is included as a component.
var componentValues = map[string]string{
	"name": ComponentName, "version": "1.2.3", "reference": "1.2.3",
	"sha": "0123456789abcdef0123456789abcdef01234567",
}

// parseConfig splits src into header and body and, as GitLab does when the
// file is included, replaces every $[[ inputs.x ]] in the body with the
// input's value (given, else its default), so that interpolations in typed
// positions (booleans, numbers) are checked with the type they will have.
func parseConfig(src []byte, given map[string]string) (configFile, error) {
	var docs []*yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(src))
	for {
		var n yaml.Node
		err := dec.Decode(&n)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return configFile{}, fmt.Errorf("YAML: %w", err)
		}
		docs = append(docs, &n)
	}
	var cf configFile
	var specs map[string]inputSpec
	switch len(docs) {
	case 1:
	case 2:
		var h struct {
			Spec struct {
				Inputs map[string]inputSpec `yaml:"inputs"`
			} `yaml:"spec"`
		}
		if err := docs[0].Decode(&h); err != nil {
			return cf, fmt.Errorf("header: %w", err)
		}
		specs = h.Spec.Inputs
		v, err := jsonValue(docs[0])
		if err != nil {
			return cf, fmt.Errorf("header: %w", err)
		}
		m, ok := v.(map[string]any)
		if !ok {
			return cf, fmt.Errorf("header is a %T, not a mapping with spec:", v)
		}
		cf.header = m
	default:
		return cf, fmt.Errorf("%d YAML documents: a CI file is one, or a spec: header, ---, and the configuration", len(docs))
	}

	// Re-read the body as text so interpolation happens before typing.
	bodyText := src
	if len(docs) == 2 {
		i := bytes.Index(src, []byte("\n---"))
		if i < 0 {
			return cf, errors.New("no --- line between the header and the configuration")
		}
		bodyText = src[i+4:]
	}
	var subErr error
	bodyText = inputRef.ReplaceAllFunc(bodyText, func(m []byte) []byte {
		name := string(inputRef.FindSubmatch(m)[1])
		s, ok := specs[name]
		if !ok {
			subErr = errors.Join(subErr, fmt.Errorf("$[[ inputs.%s ]] is used but spec:inputs does not declare %q", name, name))
			return m
		}
		v, ok := given[name]
		if !ok {
			if s.Default == nil {
				subErr = errors.Join(subErr, fmt.Errorf("input %q has no default and no value was given", name))
				return m
			}
			v = fmt.Sprint(s.Default)
		}
		if err := checkInput(name, s, v); err != nil {
			cf.inputErr = errors.Join(cf.inputErr, err)
		}
		return []byte(v)
	})
	bodyText = componentRef.ReplaceAllFunc(bodyText, func(m []byte) []byte {
		if v, ok := componentValues[string(componentRef.FindSubmatch(m)[1])]; ok {
			return []byte(v)
		}
		subErr = errors.Join(subErr, fmt.Errorf("unknown interpolation %s", m))
		return m
	})
	if left := anyRef.Find(bodyText); left != nil {
		subErr = errors.Join(subErr, fmt.Errorf("interpolation %s is not one GitLab knows", left))
	}
	if subErr != nil {
		return cf, subErr
	}
	var body yaml.Node
	if err := yaml.Unmarshal(bodyText, &body); err != nil {
		return cf, errors.Join(cf.inputErr, fmt.Errorf("configuration after interpolation: %w", err))
	}
	v, err := jsonValue(&body)
	if err != nil {
		return cf, err
	}
	cf.body = v
	return cf, nil
}

// checkInput applies an input's regex: and options: to its value the way
// GitLab does when the file is included, default values included. GitLab
// compiles regex: with RE2 (Gitlab::UntrustedRegexp) and looks for a match
// anywhere in the value, as Go's regexp (RE2 syntax) does: without (?m), ^
// and $ anchor at the ends of the whole value, like \A and \z.
func checkInput(name string, s inputSpec, v string) error {
	if s.Regex != "" {
		re, err := regexp.Compile(s.Regex)
		if err != nil {
			return fmt.Errorf("input %q: regex %q is not RE2: %v", name, s.Regex, err)
		}
		if !re.MatchString(v) {
			return fmt.Errorf("input %q: %q does not match required regex", name, v)
		}
	}
	if len(s.Options) > 0 {
		for _, o := range s.Options {
			if fmt.Sprint(o) == v {
				return nil
			}
		}
		return fmt.Errorf("input %q: %q is not in the list of allowed options %v", name, v, s.Options)
	}
	return nil
}

// jsonValue turns a YAML node into what encoding/json would have produced
// (string keys, float64 numbers), the form the validator expects.
func jsonValue(n *yaml.Node) (any, error) {
	var v any
	if err := n.Decode(&v); err != nil {
		return nil, err
	}
	v, err := normalise(v)
	if err != nil {
		return nil, err
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return jsonschema.UnmarshalJSON(bytes.NewReader(b))
}

func normalise(v any) (any, error) {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			n, err := normalise(e)
			if err != nil {
				return nil, err
			}
			x[k] = n
		}
		return x, nil
	case map[any]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			n, err := normalise(e)
			if err != nil {
				return nil, err
			}
			out[fmt.Sprint(k)] = n
		}
		return out, nil
	case []any:
		for i, e := range x {
			n, err := normalise(e)
			if err != nil {
				return nil, err
			}
			x[i] = n
		}
		return x, nil
	default:
		return v, nil
	}
}

// validate checks a parsed file against the schema: the header against the
// schema's spec part, the body as a whole CI configuration.
func (s ciSchema) validate(cf configFile) error {
	errs := []error{cf.inputErr}
	if cf.header != nil {
		for k := range cf.header {
			if k != "spec" {
				errs = append(errs, fmt.Errorf("header: key %q: the header holds spec: only", k))
			}
		}
		if err := s.spec.Validate(cf.header["spec"]); err != nil {
			errs = append(errs, fmt.Errorf("header spec: %w", err))
		}
	}
	if err := s.config.Validate(cf.body); err != nil {
		errs = append(errs, fmt.Errorf("configuration: %w", err))
	}
	return errors.Join(errs...)
}

func (s ciSchema) validateFile(src []byte, given map[string]string) error {
	cf, err := parseConfig(src, given)
	if err != nil {
		return err
	}
	return s.validate(cf)
}

func TestComponentMatchesGitLabSchema(t *testing.T) {
	s := loadSchema(t, findSchema(t))
	if err := s.validateFile(Component, nil); err != nil {
		t.Fatalf("templates/echoes-labels.yml with its defaults:\n%v", err)
	}
	// The values the README and the end-to-end test pass.
	given := map[string]string{"require_effort": "true", "allow_api_failure": "true",
		"job_name": "labels", "stage": "check", "wait": "2m", "junit_report": "reports/echoes.xml"}
	if err := s.validateFile(Component, given); err != nil {
		t.Fatalf("templates/echoes-labels.yml with %v:\n%v", given, err)
	}
	// $[[ component.version ]], which GitLab fills in for component includes.
	versioned := bytes.Replace(Component, []byte("name: $[[ inputs.image ]]"), []byte("name: registry.example.com/echoes-labels:$[[ component.version ]]"), 1)
	if bytes.Equal(versioned, Component) {
		t.Fatal("the template no longer has name: $[[ inputs.image ]]: update this test")
	}
	if err := s.validateFile(versioned, nil); err != nil {
		t.Fatalf("template with $[[ component.version ]]:\n%v", err)
	}
}

func TestProjectPipelineMatchesGitLabSchema(t *testing.T) {
	s := loadSchema(t, findSchema(t))
	path := filepath.Join(repoRoot(t), ".gitlab-ci.yml")
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.validateFile(src, nil); err != nil {
		t.Fatalf(".gitlab-ci.yml:\n%v", err)
	}
}

// TestBrokenComponentFailsValidation proves the schema check can fail: each
// mistake below, made in the real template, must be caught.
func TestBrokenComponentFailsValidation(t *testing.T) {
	s := loadSchema(t, findSchema(t))
	cases := []struct {
		name, old, new, want string
	}{
		{"interruptible not a boolean", "interruptible: true", "interruptible: sometimes", "interruptible"},
		{"artifacts when unknown", "when: always", "when: sometimes", "when"},
		{"exit code not a number", "  rules:\n", "  allow_failure:\n    exit_codes: [\"four\"]\n  rules:\n", "exit_codes"},
		{"unknown job keyword", "  needs: []\n", "  needs: []\n  rulez: []\n", "rulez"},
		{"input type unknown", "type: boolean", "type: bool", "type"},
		{"spec key unknown", "spec:\n  inputs:", "spec:\n  outputs: {}\n  inputs:", "outputs"},
		{"boolean default of a string", "      default: 0s", "      default: false", "default"},
		{"undeclared input", "$[[ inputs.stage ]]", "$[[ inputs.stages ]]", "stages"},
		{"no header separator", "\n---\n", "\n", ""},
		{"unknown component value", "name: $[[ inputs.image ]]", "name: $[[ component.bogus ]]", "component.bogus"},
		{"unknown interpolation", "name: $[[ inputs.image ]]", "name: $[[ matrix.os ]]", "matrix.os"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			src := string(Component)
			if !strings.Contains(src, tc.old) {
				t.Fatalf("the template no longer contains %q: update this case", tc.old)
			}
			broken := strings.Replace(src, tc.old, tc.new, 1)
			err := s.validateFile([]byte(broken), nil)
			if err == nil {
				t.Fatalf("replacing %q with %q passed validation", tc.old, tc.new)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error does not mention %q:\n%v", tc.want, err)
			}
		})
	}
}

// TestComponentInputs checks what the schema cannot: every input is
// described, has a default, is used, and is documented.
func TestComponentInputs(t *testing.T) {
	inputs := specInputs(t, Component)
	want := []string{"job_name", "stage", "image", "require_effort", "allow_api_failure", "junit_report", "wait", "timeout",
		"skip_authors", "drafts", "enforce", "dotenv"}
	var names []string
	for name := range inputs {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, w := range want {
		if _, ok := inputs[w]; !ok {
			t.Errorf("input %q is missing (have %v)", w, names)
		}
	}
	docs, err := os.ReadFile(filepath.Join(repoRoot(t), "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	body := Component[bytes.Index(Component, []byte("\n---")):]
	for _, name := range names {
		in := inputs[name]
		if strings.TrimSpace(in.Description) == "" {
			t.Errorf("input %q has no description", name)
		}
		if in.Default == nil {
			t.Errorf("input %q has no default, so every user must set it", name)
		}
		if in.Regex != "" {
			if _, err := regexp.Compile(in.Regex); err != nil {
				t.Errorf("input %q: regex %q: %v", name, in.Regex, err)
			} else if !regexp.MustCompile(in.Regex).MatchString(fmt.Sprint(in.Default)) {
				t.Errorf("input %q: default %v does not match its own regex %q", name, in.Default, in.Regex)
			}
		}
		if !regexp.MustCompile(`\$\[\[\s*inputs\.` + regexp.QuoteMeta(name) + `\s*\]\]`).Match(body) {
			t.Errorf("input %q is declared but never used", name)
		}
		if !bytes.Contains(docs, []byte("| `"+name+"` |")) {
			t.Errorf("input %q has no row in the inputs table of README.md", name)
		}
	}
}

// TestComponentJob pins the behaviour issue #3 asks for, on the job as
// GitLab would see it with the default inputs.
func TestComponentJob(t *testing.T) {
	cf, err := parseConfig(Component, nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg := cf.body.(map[string]any)
	job, ok := cfg["echoes-labels"].(map[string]any)
	jobs := 0
	for k := range cfg {
		if !strings.HasPrefix(k, ".") {
			jobs++
		}
	}
	if !ok || jobs != 1 {
		t.Fatalf("want exactly one job named echoes-labels by default, got keys %v", keys(cfg))
	}
	vars, _ := job["variables"].(map[string]any)
	checks := []struct {
		what      string
		got, want any
	}{
		{"GIT_STRATEGY", vars["GIT_STRATEGY"], "none"},
		{"needs", fmt.Sprint(job["needs"]), "[]"},
		{"interruptible", job["interruptible"], true},
		{"stage", job["stage"], "test"},
		{"ECHOES_REQUIRE_EFFORT", vars["ECHOES_REQUIRE_EFFORT"], "false"},
		{"ECHOES_WAIT", vars["ECHOES_WAIT"], "0s"},
		{"ECHOES_JUNIT", vars["ECHOES_JUNIT"], "echoes-labels.junit.xml"},
		{"artifacts", fmt.Sprint(job["artifacts"]), "map[expire_in:30 days reports:map[dotenv:echoes-labels.env junit:echoes-labels.junit.xml] when:always]"},
		{"ECHOES_DOTENV", vars["ECHOES_DOTENV"], "echoes-labels.env"},
		{"allow_failure", fmt.Sprint(allowFailure(t, Component, nil)), "map[exit_codes:[4]]"},
		{"allow_failure with allow_api_failure", fmt.Sprint(allowFailure(t, Component, map[string]string{"allow_api_failure": "true"})), "map[exit_codes:[3 4]]"},
		{"ECHOES_ENFORCE", vars["ECHOES_ENFORCE"], "true"},
		{"ECHOES_DRAFTS", vars["ECHOES_DRAFTS"], "enforce"},
		{"ECHOES_SKIP_AUTHORS", vars["ECHOES_SKIP_AUTHORS"], ""},
		{"script", fmt.Sprint(job["script"]), "[echoes-labels]"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.what, c.got, c.want)
		}
	}
	if _, set := vars["ECHOES_GITLAB_TOKEN"]; set {
		t.Error("the template must not set ECHOES_GITLAB_TOKEN: it would hide the project's masked variable")
	}
	rules, _ := job["rules"].([]any)
	if len(rules) != 1 {
		t.Fatalf("want one rule, got %v", rules)
	}
	for i, r := range rules {
		cond, _ := r.(map[string]any)["if"].(string)
		if !strings.Contains(cond, `$CI_PIPELINE_SOURCE == "merge_request_event"`) {
			t.Errorf("rule %d runs outside merge request pipelines: if: %q", i, cond)
		}
	}
	// GitLab takes a rule's allow_failure (true or false only) instead of
	// the job's, exit codes included: exit code 4 would then fail.
	for i, r := range rules {
		if af, set := r.(map[string]any)["allow_failure"]; set {
			t.Errorf("rule %d sets allow_failure: %v, which drops the job's exit codes", i, af)
		}
	}
}

// allowFailure is the job's allow_failure as GitLab resolves it: its own,
// or that of the hidden job it extends.
func allowFailure(t *testing.T, src []byte, given map[string]string) any {
	t.Helper()
	cf, err := parseConfig(src, given)
	if err != nil {
		t.Fatal(err)
	}
	cfg := cf.body.(map[string]any)
	job := cfg["echoes-labels"].(map[string]any)
	if af, ok := job["allow_failure"]; ok {
		return af
	}
	base, _ := job["extends"].(string)
	hidden, ok := cfg[base].(map[string]any)
	if !ok {
		t.Fatalf("the job extends %q, which the template does not define (keys %v)", base, keys(cfg))
	}
	return hidden["allow_failure"]
}

func keys(m map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
