// Command ocitool measures and recompresses an OCI image archive (the
// oci-archive: that buildah writes), for scripts/build-image.sh and
// scripts/test-image.sh.
//
//	ocitool size [-max 4MiB] IMAGE.tar    print the compressed layer sizes, the bytes a runner pulls
//	ocitool zstd19 IN.tar OUT.tar         recompress every layer with zstd -19 (the zstd CLI)
//
// buildah's own zstd tops out near zstd's level 11; the CLI's level 19 makes
// the layers about a sixth smaller than gzip.
package main

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	var err error
	switch os.Args[1] {
	case "size":
		err = size(os.Args[2:])
	case "zstd19":
		if len(os.Args) != 4 {
			usage()
		}
		err = recompress(os.Args[2], os.Args[3])
	default:
		usage()
	}
	if err != nil {
		var over overLimit
		if errors.As(err, &over) {
			fmt.Println("FAIL:", err)
			os.Exit(1)
		}
		fmt.Fprintln(os.Stderr, "ocitool:", err)
		os.Exit(2)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: ocitool size [-max 4MiB] IMAGE.tar | ocitool zstd19 IN.tar OUT.tar")
	os.Exit(2)
}

type overLimit struct{ total, max int64 }

func (o overLimit) Error() string {
	return fmt.Sprintf("compressed layers are %d bytes, over the %d-byte (%.2f MiB) limit by %d bytes",
		o.total, o.max, float64(o.max)/(1<<20), o.total-o.max)
}

// archive is an OCI layout held in memory: small images only.
type archive struct {
	files map[string][]byte // path in the tar -> content
	order []string
}

func readArchive(path string) (*archive, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	a := &archive{files: map[string][]byte{}}
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return a, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			return nil, err
		}
		name := strings.TrimPrefix(h.Name, "./")
		a.files[name] = b
		a.order = append(a.order, name)
	}
}

func blobPath(digest string) string { return "blobs/" + strings.Replace(digest, ":", "/", 1) }

func (a *archive) blob(digest string) ([]byte, error) {
	b, ok := a.files[blobPath(digest)]
	if !ok {
		return nil, fmt.Errorf("blob %s is not in the archive", digest)
	}
	if got := "sha256:" + sha256Hex(b); got != digest {
		return nil, fmt.Errorf("blob %s has digest %s", digest, got)
	}
	return b, nil
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// manifest returns the index, the single manifest it lists, and that
// manifest's layers, as generic JSON so that rewriting keeps every field.
func (a *archive) manifest() (idx, man map[string]any, layers []map[string]any, err error) {
	if err = json.Unmarshal(a.files["index.json"], &idx); err != nil {
		return nil, nil, nil, fmt.Errorf("index.json: %w", err)
	}
	ms, _ := idx["manifests"].([]any)
	if len(ms) != 1 {
		return nil, nil, nil, fmt.Errorf("index.json lists %d manifests, want 1", len(ms))
	}
	d, _ := ms[0].(map[string]any)["digest"].(string)
	b, err := a.blob(d)
	if err != nil {
		return nil, nil, nil, err
	}
	if err = json.Unmarshal(b, &man); err != nil {
		return nil, nil, nil, fmt.Errorf("manifest %s: %w", d, err)
	}
	ls, _ := man["layers"].([]any)
	for _, l := range ls {
		layers = append(layers, l.(map[string]any))
	}
	return idx, man, layers, nil
}

func size(args []string) error {
	var limit, path string
	switch {
	case len(args) == 1:
		path = args[0]
	case len(args) == 3 && args[0] == "-max":
		limit, path = args[1], args[2]
	default:
		usage()
	}
	max, err := parseSize(limit)
	if err != nil {
		return fmt.Errorf("-max %q: %w", limit, err)
	}
	a, err := readArchive(path)
	if err != nil {
		return err
	}
	_, _, layers, err := a.manifest()
	if err != nil {
		return err
	}
	var total int64
	for i, l := range layers {
		d, _ := l["digest"].(string)
		b, err := a.blob(d)
		if err != nil {
			return err
		}
		if want, _ := l["size"].(float64); int64(want) != int64(len(b)) {
			return fmt.Errorf("layer %s is %d bytes, the manifest says %.0f", d, len(b), want)
		}
		fmt.Printf("layer %d  %9d bytes  %s  %s\n", i, len(b), l["mediaType"], d[:19])
		total += int64(len(b))
	}
	fmt.Printf("compressed layers: %d bytes (%.2f MiB) in %d layers\n", total, float64(total)/(1<<20), len(layers))
	if max > 0 && total > max {
		return overLimit{total, max}
	}
	return nil
}

func recompress(in, out string) error {
	a, err := readArchive(in)
	if err != nil {
		return err
	}
	idx, man, layers, err := a.manifest()
	if err != nil {
		return err
	}
	drop := map[string]bool{}
	for _, l := range layers {
		d, _ := l["digest"].(string)
		b, err := a.blob(d)
		if err != nil {
			return err
		}
		raw, err := run(b, "zstd", "-d", "-q", "-c", "--format=zstd")
		if err != nil {
			if raw, err = run(b, "zstd", "-d", "-q", "-c", "--format=gzip"); err != nil {
				return fmt.Errorf("layer %s: cannot decompress (zstd or gzip): %w", d, err)
			}
		}
		z, err := run(raw, "zstd", "-19", "-q", "-c", "--no-progress")
		if err != nil {
			return fmt.Errorf("layer %s: zstd -19: %w", d, err)
		}
		nd := "sha256:" + sha256Hex(z)
		drop[blobPath(d)] = true
		a.files[blobPath(nd)] = z
		a.order = append(a.order, blobPath(nd))
		l["digest"], l["size"], l["mediaType"] = nd, len(z), "application/vnd.oci.image.layer.v1.tar+zstd"
	}
	mb, err := json.Marshal(man)
	if err != nil {
		return err
	}
	md := "sha256:" + sha256Hex(mb)
	m0 := idx["manifests"].([]any)[0].(map[string]any)
	drop[blobPath(m0["digest"].(string))] = true
	a.files[blobPath(md)] = mb
	a.order = append(a.order, blobPath(md))
	m0["digest"], m0["size"] = md, len(mb)
	if a.files["index.json"], err = json.Marshal(idx); err != nil {
		return err
	}
	return a.write(out, drop)
}

func (a *archive) write(path string, drop map[string]bool) error {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	seen := map[string]bool{}
	for _, name := range a.order {
		if drop[name] || seen[name] {
			continue
		}
		seen[name] = true
		b := a.files[name]
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(b)), Typeflag: tar.TypeReg}); err != nil {
			return err
		}
		if _, err := tw.Write(b); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return os.WriteFile(path, buf.Bytes(), 0o644)
}

func run(stdin []byte, name string, args ...string) ([]byte, error) {
	cmd := exec.Command(name, args...)
	cmd.Stdin = bytes.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("%s: %w: %s", name, err, strings.TrimSpace(errb.String()))
	}
	return out.Bytes(), nil
}

func parseSize(s string) (int64, error) {
	if s == "" {
		return 0, nil
	}
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		m      int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}} {
		if strings.HasSuffix(s, u.suffix) {
			s, mult = strings.TrimSuffix(s, u.suffix), u.m
			break
		}
	}
	n, err := strconv.ParseFloat(s, 64)
	if err != nil || n <= 0 {
		return 0, errors.New("want a positive size such as 4MiB or 4194304")
	}
	return int64(n * float64(mult)), nil
}
