package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"os/exec"
	"path/filepath"
	"testing"
)

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{"": 0, "4MiB": 4 << 20, "1.5KiB": 1536, "4194304": 4194304} {
		if got, err := parseSize(in); err != nil || got != want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"4MB", "-1", "0", "lots"} {
		if _, err := parseSize(in); err == nil {
			t.Errorf("parseSize(%q) accepted", in)
		}
	}
}

// writeImage writes a one-layer OCI archive whose layer is gzip-compressed.
func writeImage(t *testing.T, path string, layer []byte) {
	t.Helper()
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(layer)
	zw.Close()
	a := &archive{files: map[string][]byte{}}
	add := func(name string, b []byte) { a.files[name] = b; a.order = append(a.order, name) }
	ld := "sha256:" + sha256Hex(gz.Bytes())
	cfg := []byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":["sha256:` + sha256Hex(layer) + `"]}}`)
	cd := "sha256:" + sha256Hex(cfg)
	man, _ := json.Marshal(map[string]any{"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
		"config": map[string]any{"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": len(cfg)},
		"layers": []any{map[string]any{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": ld, "size": gz.Len()}}})
	md := "sha256:" + sha256Hex(man)
	idx, _ := json.Marshal(map[string]any{"schemaVersion": 2, "manifests": []any{map[string]any{
		"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": md, "size": len(man)}}})
	add("oci-layout", []byte(`{"imageLayoutVersion":"1.0.0"}`))
	add("index.json", idx)
	add(blobPath(ld), gz.Bytes())
	add(blobPath(cd), cfg)
	add(blobPath(md), man)
	if err := a.write(path, nil); err != nil {
		t.Fatal(err)
	}
}

func TestRecompressKeepsTheLayerAndShrinksIt(t *testing.T) {
	if _, err := exec.LookPath("zstd"); err != nil {
		t.Skip("zstd CLI not installed (apt-get install zstd)")
	}
	var layer bytes.Buffer
	tw := tar.NewWriter(&layer)
	content := bytes.Repeat([]byte("echoes-labels layer content, compressible. "), 4000)
	tw.WriteHeader(&tar.Header{Name: "usr/local/bin/echoes-labels", Mode: 0o755, Size: int64(len(content))})
	tw.Write(content)
	tw.Close()

	dir := t.TempDir()
	in, out := filepath.Join(dir, "in.tar"), filepath.Join(dir, "out.tar")
	writeImage(t, in, layer.Bytes())
	if err := recompress(in, out); err != nil {
		t.Fatal(err)
	}
	a, err := readArchive(out)
	if err != nil {
		t.Fatal(err)
	}
	_, _, layers, err := a.manifest() // also checks the manifest's digest
	if err != nil {
		t.Fatal(err)
	}
	if len(layers) != 1 || layers[0]["mediaType"] != "application/vnd.oci.image.layer.v1.tar+zstd" {
		t.Fatalf("layers = %v", layers)
	}
	z, err := a.blob(layers[0]["digest"].(string))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := run(z, "zstd", "-d", "-q", "-c")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(raw, layer.Bytes()) {
		t.Fatal("the recompressed layer does not decompress to the original tar")
	}
	old, err := readArchive(in)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, ol, _ := old.manifest(); layers[0]["size"].(float64) >= ol[0]["size"].(float64) {
		t.Errorf("zstd -19 layer %v bytes is not smaller than gzip's %v", layers[0]["size"], ol[0]["size"])
	}
	if err := size([]string{"-max", "100", out}); !errors.As(err, new(overLimit)) {
		t.Errorf("size -max 100 = %v, want over the limit", err)
	}
	if err := size([]string{"-max", "4MiB", out}); err != nil {
		t.Errorf("size -max 4MiB = %v", err)
	}
}
