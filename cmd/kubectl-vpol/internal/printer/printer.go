// Package printer writes kubectl vpol's output: aligned columns for people
// (text/tabwriter, no color, the caller's stable order) and YAML or JSON for
// machines.
package printer

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"sigs.k8s.io/yaml"
)

// Table writes rows under header in aligned columns, as kubectl get does.
// Empty cells are shown as "-" so columns stay readable.
func Table(w io.Writer, header []string, rows [][]string) error {
	return IndentedTable(w, "", header, rows)
}

// IndentedTable is Table with every line starting with prefix, for tables
// under a title.
func IndentedTable(w io.Writer, prefix string, header []string, rows [][]string) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	line := func(cells []string) {
		out := make([]string, len(cells))
		for i, c := range cells {
			if c == "" {
				c = "-"
			}
			out[i] = c
		}
		fmt.Fprintln(tw, prefix+strings.Join(out, "\t"))
	}
	if header != nil {
		line(header)
	}
	for _, r := range rows {
		line(r)
	}
	return tw.Flush()
}

// Format is an -o value for machine output.
type Format string

const (
	YAML Format = "yaml"
	JSON Format = "json"
)

// Object writes obj as YAML or indented JSON. An object that was never
// stored has a null metadata.creationTimestamp, which says nothing: it is
// left out.
func Object(w io.Writer, format Format, obj any) error {
	obj, err := withoutNullTimestamp(obj)
	if err != nil {
		return err
	}
	switch format {
	case JSON:
		b, err := json.MarshalIndent(obj, "", "  ")
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(w, "%s\n", b)
		return err
	case YAML, "":
		b, err := yaml.Marshal(obj)
		if err != nil {
			return err
		}
		_, err = w.Write(b)
		return err
	default:
		return fmt.Errorf("unknown output format %q: use yaml or json", format)
	}
}

func withoutNullTimestamp(obj any) (any, error) {
	raw, err := json.Marshal(obj)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if json.Unmarshal(raw, &m) != nil {
		return obj, nil // not an object
	}
	if md, ok := m["metadata"].(map[string]any); ok {
		if ts, found := md["creationTimestamp"]; found && ts == nil {
			delete(md, "creationTimestamp")
		}
	}
	return m, nil
}
