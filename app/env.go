package app

import (
	"strings"

	"github.com/alecthomas/kong"

	"gitlab.com/echoeshq/echoes-labels/cienv"
)

// envBinding moves the env tags out of kong's reach and reads them through
// cienv instead, so that an empty variable counts as unset (kong would take
// it as an empty value) and tests need no process environment.
type envBinding struct {
	env    cienv.Env
	byFlag map[*kong.Value][]string
	byName map[string][]string
}

func bindEnv(app *kong.Application, env cienv.Env) *envBinding {
	b := &envBinding{env: env, byFlag: map[*kong.Value][]string{}, byName: map[string][]string{}}
	_ = kong.Visit(app, func(n kong.Visitable, next kong.Next) error {
		if f, ok := n.(*kong.Flag); ok && len(f.Tag.Envs) > 0 {
			b.byFlag[f.Value], b.byName[f.Name] = f.Tag.Envs, f.Tag.Envs
			f.Tag.Envs, f.Envs = nil, nil
		}
		return next(nil)
	})
	return b
}

// resolve gives a flag not on the command line its variable's value.
func (b *envBinding) resolve(_ *kong.Context, _ *kong.Path, f *kong.Flag) (any, error) {
	if v, _ := b.lookup(b.byFlag[f.Value]); v != "" {
		return v, nil
	}
	return nil, nil
}

// get reads a flag's variables by the flag's name, for when parsing failed.
func (b *envBinding) get(flag string) string {
	v, _ := b.lookup(b.byName[flag])
	return v
}

func (b *envBinding) lookup(names []string) (value, name string) {
	for _, n := range names {
		if v := b.env.Get(n); v != "" {
			return v, n
		}
	}
	return "", ""
}

// help appends a flag's variables to its help, as kong does for env tags.
func (b *envBinding) help(v *kong.Value) string {
	names := b.byFlag[v]
	if len(names) == 0 {
		return v.Help
	}
	vars := "($" + strings.Join(names, ", $") + ")"
	if strings.HasSuffix(v.Help, ".") {
		return v.Help[:len(v.Help)-1] + " " + vars + "."
	}
	return v.Help + " " + vars
}
