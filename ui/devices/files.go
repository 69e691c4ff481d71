package devices

import (
	"fyne.io/fyne/v2"

	"github.com/clinicvault/clinicvault/ui/kit"
	"github.com/clinicvault/clinicvault/ui/plain"
)

// chooseFolder asks for a folder, starting in start when it exists, and
// calls picked with its path (not when cancelled). Tests replace it with
// one that answers at once.
var chooseFolder = func(win fyne.Window, start string, picked func(dir string)) {
	kit.ChooseFolder(win, start, "Choose", picked, func(err error) {
		plain.ShowError(win, "The folder could not be opened", err)
	})
}
