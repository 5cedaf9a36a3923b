package registry

import (
	"bytes"
	"fmt"
	"os"
	"sort"
	"strings"

	"golang.org/x/crypto/bcrypt"
)

// writeHtpasswd writes users as an htpasswd file with bcrypt hashes, the
// only hash distribution's htpasswd access controller accepts.
func writeHtpasswd(path string, users map[string]string) error {
	names := make([]string, 0, len(users))
	for name := range users {
		if name == "" || strings.ContainsAny(name, ":\n") {
			return fmt.Errorf("invalid htpasswd user name %q", name)
		}
		names = append(names, name)
	}
	sort.Strings(names)

	var buf bytes.Buffer
	for _, name := range names {
		// MinCost keeps registry start-up fast; the hash strength is
		// irrelevant for a throwaway test registry.
		hash, err := bcrypt.GenerateFromPassword([]byte(users[name]), bcrypt.MinCost)
		if err != nil {
			return err
		}
		fmt.Fprintf(&buf, "%s:%s\n", name, hash)
	}
	return os.WriteFile(path, buf.Bytes(), 0o600)
}
