package folder

import (
	"sort"
	"sync"
)

// Notes collects what a Folder's listings set aside, for the caller to
// show an admin: copies that a cloud service made of the folder's files
// on a conflict, and odd names (ones Windows cannot hold, or two that
// differ only by case). Neither is ever read as the practice's data; a
// file of them can be deleted. It is safe for concurrent use; the zero
// value is ready, and a nil *Notes collects nothing.
type Notes struct {
	mu     sync.Mutex
	copies map[string]bool
	odd    map[string]bool
}

// Copies are the conflict copies seen, as slash paths within the folder,
// in order.
func (n *Notes) Copies() []string { return n.list(func(n *Notes) map[string]bool { return n.copies }) }

// Odd are the odd names seen, as slash paths within the folder, in
// order.
func (n *Notes) Odd() []string { return n.list(func(n *Notes) map[string]bool { return n.odd }) }

func (n *Notes) list(which func(*Notes) map[string]bool) []string {
	if n == nil {
		return nil
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	var out []string
	for p := range which(n) {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

func (n *Notes) copy(rel string) {
	if n != nil {
		n.mu.Lock()
		defer n.mu.Unlock()
		if n.copies == nil {
			n.copies = map[string]bool{}
		}
		n.copies[rel] = true
	}
}

func (n *Notes) oddName(rel string) {
	if n != nil {
		n.mu.Lock()
		defer n.mu.Unlock()
		if n.odd == nil {
			n.odd = map[string]bool{}
		}
		n.odd[rel] = true
	}
}
