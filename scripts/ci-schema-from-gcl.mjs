// node scripts/ci-schema-from-gcl.mjs BUNDLE OUT.json
//
// Writes GitLab's CI JSON schema (app/assets/javascripts/editor/schema/ci.json
// of gitlab-org/gitlab) as gitlab-ci-local ships it, for the template's
// schema test. gitlab-ci-local vendors that file (its `fetch-schema` script)
// and validates every pipeline with it, but its npm package has no .json
// file: the bundler inlined the schema into dist/index.js as an object
// literal (unquoted keys, `!0` for true). So this finds that literal by
// GitLab's schema $id, cuts it out by matching brackets outside strings, and
// evaluates only that expression in an empty context. gitlab-ci-local's own
// changes to the schema (it drops a few patterns and adds gcl* keywords) are
// made at run time, not in the literal, so OUT is GitLab's file unchanged.
//
// The npm package is pinned by scripts/ci-ship.sh, so CI validates against
// a known schema and a new GitLab keyword arrives with a deliberate bump.
import {readFileSync, writeFileSync} from "node:fs";
import vm from "node:vm";

const [bundle, out] = process.argv.slice(2);
if (!bundle || !out) {
    console.error("usage: node scripts/ci-schema-from-gcl.mjs node_modules/gitlab-ci-local/dist/index.js OUT.json");
    process.exit(2);
}

function fail(msg) {
    console.error(`ci-schema-from-gcl: ${msg}`);
    console.error("  fix: pin a gitlab-ci-local version that bundles GitLab's schema (GITLAB_CI_LOCAL_VERSION in scripts/ci-ship.sh), or set ECHOES_CI_SCHEMA to a copy of GitLab's ci.json");
    process.exit(1);
}

const src = readFileSync(bundle, "utf8");
const start = /\{\s*["']?\$schema["']?\s*:\s*["']http:\/\/json-schema\.org\/draft-07\/schema#["']\s*,\s*["']?\$id["']?\s*:\s*["']https:\/\/gitlab\.com\/\.gitlab-ci\.yml["']/g;
const found = [...src.matchAll(start)];
if (found.length !== 1) {
    fail(`${bundle}: want exactly one object with GitLab's CI schema $id, found ${found.length}`);
}

// end returns the index just past the bracket that closes the one at i.
function end(s, i) {
    let depth = 0;
    for (; i < s.length; i++) {
        const c = s[i];
        if (c === '"' || c === "'" || c === "`") {
            for (i++; i < s.length && s[i] !== c; i++) {
                if (s[i] === "\\") i++;
            }
            continue;
        }
        if (c === "{" || c === "[") depth++;
        if (c === "}" || c === "]") {
            depth--;
            if (depth === 0) return i + 1;
        }
    }
    fail(`${bundle}: the schema's object literal never closes`);
}

const literal = src.slice(found[0].index, end(src, found[0].index));
let schema;
try {
    schema = vm.runInNewContext(`(${literal})`, Object.create(null), {timeout: 2000});
} catch (e) {
    fail(`${bundle}: the schema's object literal does not evaluate: ${e.message}`);
}
const need = [
    ["properties.spec", schema?.properties?.spec],
    ["definitions.job_template", schema?.definitions?.job_template],
    ["definitions.include_item", schema?.definitions?.include_item],
];
for (const [name, v] of need) {
    if (typeof v !== "object" || v === null) fail(`${bundle}: the schema found has no ${name}`);
}
writeFileSync(out, JSON.stringify(schema, null, 2) + "\n");
console.log(`ci-schema-from-gcl: GitLab's CI schema (${literal.length} characters in the bundle) written to ${out}`);
