package verify

import (
	"strings"
	"testing"

	. "github.com/onsi/gomega"
)

func TestSanitize(t *testing.T) {
	g := NewWithT(t)
	msg := "failed: Get \"https://bucket.s3.example.com/blob?X-Amz-Signature=abc&X-Amz-Credential=def\": EOF\nsecond line with hunter2"
	out := sanitize(msg, []string{"hunter2", ""})
	g.Expect(out).To(Equal("failed: Get \"https://bucket.s3.example.com/blob?…\": EOF; second line with ***"))

	long := sanitize(strings.Repeat("é", maxMessageLen), nil)
	g.Expect(len(long)).To(BeNumerically("<=", maxMessageLen))
	g.Expect(long).To(HaveSuffix("…"))
	g.Expect([]rune(long)[0]).To(Equal('é'))
	g.Expect(strings.ToValidUTF8(long, "?")).To(Equal(long))
}
