package app

import (
	"context"
	"slices"
	"strings"
	"testing"

	cvsync "github.com/clinicvault/clinicvault/sync"
)

// TestAttackInsiderChangesWhoIsBooked: who the day book offers is an
// admin's decision (users.bookable). Rita, a receptionist, and Dr Omar, a
// clinician, each write the next batch of the desk's log with their own
// keys and the desk's device key (read from its general.db): Rita hides
// Dr Omar from booking and offers the practice manager; Dr Omar takes
// himself off the book. The laptop refuses each batch, says why, and
// keeps offering whom the admin chose.
func TestAttackInsiderChangesWhoIsBooked(t *testing.T) {
	for _, who := range []string{"Rita Front", "Dr Omar Haddad"} {
		t.Run(who, func(t *testing.T) {
			f, dir, a, b := twoMachines(t)
			ctx := context.Background()
			f.addUser(a, "Rita Front", Receptionist, recPass)
			f.addUser(a, "Dr Omar Haddad", Clinician, docPass)
			mustSync(t, a, dir)
			mustSync(t, b, dir)
			if names, _ := b.Clinicians(ctx); !slices.Equal(names, []string{"Dr Omar Haddad"}) {
				t.Fatalf("before: the laptop offers %v", names)
			}
			var omar, maria string
			a.general.QueryRow(`SELECT id FROM users WHERE name = 'Dr Omar Haddad'`).Scan(&omar)
			a.general.QueryRow(`SELECT id FROM users WHERE name = 'Maria Admin'`).Scan(&maria)
			pass := recPass
			if who == "Dr Omar Haddad" {
				pass = docPass
			}
			forgeAs(t, f, a, dir, who, pass, func(me, hlc string) []cvsync.Record {
				no, yes := "0", "1"
				if who == "Dr Omar Haddad" {
					return []cvsync.Record{{HLC: hlc, Table: "users", RowID: me, Columns: map[string]*string{"bookable": &no}}}
				}
				return []cvsync.Record{
					{HLC: hlc, Table: "users", RowID: omar, Columns: map[string]*string{"bookable": &no}},
					{HLC: hlc, Table: "users", RowID: maria, Columns: map[string]*string{"bookable": &yes}},
				}
			})
			rep, err := b.Sync(ctx, dir)
			if err != nil {
				t.Fatal(err)
			}
			if rep.Applied != 0 || rep.Halted == 0 || !strings.Contains(rep.ProblemText(), "may not change users") {
				t.Fatalf("%s's batch: %+v", who, rep)
			}
			if names, _ := b.Clinicians(ctx); !slices.Equal(names, []string{"Dr Omar Haddad"}) {
				t.Fatalf("after %s's batch the laptop offers %v", who, names)
			}
		})
	}
}
