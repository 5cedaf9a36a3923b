package notation

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
)

// FluxContent is a gzipped tar holding one file, the shape of what
// `flux push artifact` uploads: source-controller extracts the layer of an
// OCIRepository's artifact as such a tarball.
func FluxContent(name string, data []byte) ([]byte, error) {
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(data))}); err != nil {
		return nil, err
	}
	if _, err := tw.Write(data); err != nil {
		return nil, err
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	if err := gz.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
