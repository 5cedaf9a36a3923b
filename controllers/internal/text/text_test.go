package text

import (
	"strings"
	"testing"
	"unicode/utf8"

	. "github.com/onsi/gomega"
)

func TestTruncateNeverSplitsARune(t *testing.T) {
	g := NewWithT(t)
	g.Expect(Truncate("short", 10)).To(Equal("short"))
	s := strings.Repeat("é", 100) // 2 bytes each
	for limit := 3; limit < 40; limit++ {
		out := Truncate(s, limit)
		g.Expect(len(out)).To(BeNumerically("<=", limit))
		g.Expect(utf8.ValidString(out)).To(BeTrue(), "limit %d: %q", limit, out)
		g.Expect(out).To(HaveSuffix(Ellipsis))
	}
	g.Expect(utf8.ValidString(Truncate("a\xffb", 10))).To(BeTrue(), "invalid UTF-8 is replaced")
	g.Expect(Truncate("abcdef", 2)).To(BeEmpty())
}

func TestJoin(t *testing.T) {
	g := NewWithT(t)
	g.Expect(Join([]string{"a", "b", "c"}, 2, "; ", "")).To(Equal("a; b and 1 more"))
	g.Expect(Join([]string{"a", "b"}, 2, ", ", "")).To(Equal("a, b"))
	g.Expect(Join([]string{"a", "b", "c"}, 5, ", ", " and ")).To(Equal("a, b and c"))
	g.Expect(Join([]string{"a"}, 5, ", ", " and ")).To(Equal("a"))
	g.Expect(Join(nil, 5, ", ", " and ")).To(BeEmpty())
}

func TestShortDigest(t *testing.T) {
	g := NewWithT(t)
	g.Expect(ShortDigest("sha256:0123456789abcdef")).To(Equal("sha256:0123456789ab"))
	g.Expect(ShortDigest("sha256:01")).To(Equal("sha256:01"))
}
