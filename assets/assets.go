// Package assets holds the files ClinicVault ships inside its binary: the
// application icon, the blocklist of common passwords and the table of
// drug allergy classes.
package assets

import (
	"embed"
	"strings"
)

//go:embed blocklist.txt
var blocklist string

//go:embed Icon.png
var icon []byte

//go:embed drug_allergy_classes.csv
var drugAllergyClasses string

// DrugAllergyClasses returns the sourced table of drugs, their ATC codes
// and allergy classes (see the file's header for its sources and form).
func DrugAllergyClasses() string { return drugAllergyClasses }

// Icon returns the application icon as PNG bytes.
func Icon() []byte { return icon }

// Blocklist returns the refused common passwords, lowercase, without spaces.
func Blocklist() map[string]struct{} {
	set := make(map[string]struct{}, 20000)
	for _, line := range strings.Split(blocklist, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		set[line] = struct{}{}
	}
	return set
}

// Training holds the staff security lessons, one Markdown file each, with
// a front matter (title, minutes) and a "## Quiz" section.
//
//go:embed training/*.md
var Training embed.FS
