package main

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"path/filepath"
	"sort"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// generatedFields are the CSV fields this generator owns. The base must not
// set them, so that nobody edits a value in config/ that is then silently
// replaced.
var generatedFields = [][]string{
	{"metadata", "annotations", "alm-examples"},
	{"metadata", "annotations", "containerImage"},
	{"metadata", "annotations", "createdAt"},
	{"spec", "version"},
	{"spec", "install"},
	{"spec", "icon"},
	{"spec", "relatedImages"},
}

// completeCSV fills the base ClusterServiceVersion in with what is derived
// from the rest of the build and from the flags.
func completeCSV(in *build, install map[string]interface{}, o options, icon []byte) (*unstructured.Unstructured, error) {
	csv := in.csv.DeepCopy()
	for _, f := range generatedFields {
		if _, found, _ := unstructured.NestedFieldNoCopy(csv.Object, f...); found {
			return nil, fmt.Errorf("the CSV base sets %v, which make bundle generates: remove it", f)
		}
	}
	if err := checkOwnedCRDs(csv, in.crds); err != nil {
		return nil, err
	}

	csv.SetName(fmt.Sprintf("%s.v%s", o.pkg, o.version))
	examples, err := json.MarshalIndent(in.samples, "", "  ")
	if err != nil {
		return nil, err
	}
	annotations := csv.GetAnnotations()
	if annotations == nil {
		annotations = map[string]string{}
	}
	annotations["alm-examples"] = string(examples)
	annotations["containerImage"] = o.image
	csv.SetAnnotations(annotations)

	mediaType, err := iconMediaType(o.icon)
	if err != nil {
		return nil, err
	}
	spec := csv.Object["spec"].(map[string]interface{})
	spec["version"] = o.version
	spec["install"] = install
	spec["icon"] = []interface{}{map[string]interface{}{
		"base64data": base64.StdEncoding.EncodeToString(icon),
		"mediatype":  mediaType,
	}}
	spec["relatedImages"] = relatedImages(in.deployment)
	return csv, nil
}

// relatedImages lists every image the Deployment runs, named after its
// container, so that mirroring tools (oc adm catalog mirror, oc-mirror)
// find them.
func relatedImages(deployment *unstructured.Unstructured) []interface{} {
	byImage := map[string]string{}
	for _, field := range []string{"initContainers", "containers"} {
		containers, _, _ := unstructured.NestedSlice(deployment.Object, "spec", "template", "spec", field)
		for _, c := range containers {
			c := c.(map[string]interface{})
			image, _ := c["image"].(string)
			if _, seen := byImage[image]; !seen {
				byImage[image], _ = c["name"].(string)
			}
		}
	}
	images := make([]string, 0, len(byImage))
	for image := range byImage {
		images = append(images, image)
	}
	sort.Strings(images)
	out := make([]interface{}, 0, len(images))
	for _, image := range images {
		out = append(out, map[string]interface{}{"name": byImage[image], "image": image})
	}
	return out
}

func iconMediaType(path string) (string, error) {
	switch filepath.Ext(path) {
	case ".svg":
		return "image/svg+xml", nil
	case ".png":
		return "image/png", nil
	}
	return "", fmt.Errorf("icon %s: want an .svg or .png file", path)
}
