package ui

import (
	"github.com/clinicvault/clinicvault/ui/kit"
	"github.com/clinicvault/clinicvault/ui/plain"
)

// showError shows err in plain words in a dialog titled title, which Esc
// closes.
func (g *gui) showError(title string, err error) {
	g.showDialog(kit.ErrorDialog(g.win, title, plain.Error(err)))
}

// showInfo shows a message in a dialog titled title, which Esc closes.
func (g *gui) showInfo(title, msg string) {
	g.showDialog(kit.InfoDialog(g.win, title, msg))
}
