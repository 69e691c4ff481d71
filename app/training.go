package app

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/clinicvault/clinicvault/assets"
	"github.com/go-pdf/fpdf"
)

// Training rules: new staff complete every lesson within their first
// week; everyone repeats each lesson every year; a quiz passes at 80 %.
const (
	trainingGrace  = 7 * 24 * time.Hour
	trainingEvery  = 365 * 24 * time.Hour
	trainingPassAt = 80
)

// Lesson is one security lesson with its quiz.
type Lesson struct {
	ID       string // file name without .md, e.g. "01-phishing"
	Title    string
	Minutes  int
	Body     string // Markdown, without the front matter and the quiz
	Question []Question
}

// Question is one multiple-choice question; Answer indexes Options.
type Question struct {
	Text    string
	Options []string
	Answer  int
}

var (
	questionLine = regexp.MustCompile(`^\d+\.\s+(.*)$`)
	optionLine   = regexp.MustCompile(`^\s+-\s+\[( |x)\]\s+(.*)$`)
)

// Lessons returns the shipped lessons in order.
func Lessons() ([]Lesson, error) {
	names, err := fs.Glob(assets.Training, "training/*.md")
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	var out []Lesson
	for _, n := range names {
		b, err := assets.Training.ReadFile(n)
		if err != nil {
			return nil, err
		}
		l, err := parseLesson(strings.TrimSuffix(path.Base(n), ".md"), string(b))
		if err != nil {
			return nil, fmt.Errorf("lesson %s: %w", n, err)
		}
		out = append(out, l)
	}
	return out, nil
}

func parseLesson(id, text string) (Lesson, error) {
	l := Lesson{ID: id}
	text = strings.ReplaceAll(text, "\r\n", "\n")
	if strings.HasPrefix(text, "---\n") {
		end := strings.Index(text[4:], "\n---\n")
		if end < 0 {
			return l, fmt.Errorf("front matter not closed")
		}
		for _, line := range strings.Split(text[4:4+end], "\n") {
			k, v, _ := strings.Cut(line, ":")
			switch strings.TrimSpace(k) {
			case "title":
				l.Title = strings.TrimSpace(v)
			case "minutes":
				l.Minutes, _ = strconv.Atoi(strings.TrimSpace(v))
			}
		}
		text = text[4+end+5:]
	}
	body, quiz, ok := strings.Cut(text, "\n## Quiz\n")
	if !ok {
		return l, fmt.Errorf("no \"## Quiz\" section")
	}
	l.Body = strings.TrimSpace(body)
	sc := bufio.NewScanner(strings.NewReader(quiz))
	for sc.Scan() {
		line := sc.Text()
		if m := questionLine.FindStringSubmatch(line); m != nil {
			l.Question = append(l.Question, Question{Text: m[1], Answer: -1})
		} else if m := optionLine.FindStringSubmatch(line); m != nil && len(l.Question) > 0 {
			q := &l.Question[len(l.Question)-1]
			if m[1] == "x" {
				if q.Answer >= 0 {
					return l, fmt.Errorf("question %q has two right answers", q.Text)
				}
				q.Answer = len(q.Options)
			}
			q.Options = append(q.Options, m[2])
		}
	}
	if l.Title == "" || len(l.Question) == 0 {
		return l, fmt.Errorf("missing title or questions")
	}
	for _, q := range l.Question {
		if q.Answer < 0 || len(q.Options) < 2 {
			return l, fmt.Errorf("question %q needs options and one right answer", q.Text)
		}
	}
	return l, nil
}

// QuizResult is a graded quiz.
type QuizResult struct {
	Lesson  string
	Score   int // percent
	Passed  bool
	Correct int
	Total   int
	// Wrong are the questions answered wrongly (numbered from 1), so the
	// person knows what to read again. The right answers are not given.
	Wrong []int
}

// QuizRetryAfter is how long after a failed quiz the next try may start:
// long enough to read the lesson again, too long to try the options of a
// two-choice question one after the other.
const QuizRetryAfter = 10 * time.Minute

// QuizWaitError refuses a quiz tried again too soon after a failed one.
type QuizWaitError struct{ Wait time.Duration }

func (e *QuizWaitError) Error() string {
	return fmt.Sprintf("read the lesson again first: the quiz can be tried again in %s", e.Wait.Round(time.Minute))
}

// SubmitQuiz grades answers (option index per question) for the signed-in
// user, stores the completion (passed or not), and audits it.
func (s *Session) SubmitQuiz(ctx context.Context, lessonID string, answers []int) (QuizResult, error) {
	if err := s.require(); err != nil {
		return QuizResult{}, err
	}
	lessons, err := Lessons()
	if err != nil {
		return QuizResult{}, err
	}
	var l *Lesson
	for i := range lessons {
		if lessons[i].ID == lessonID {
			l = &lessons[i]
		}
	}
	if l == nil {
		return QuizResult{}, fmt.Errorf("no lesson %q: %w", lessonID, ErrUsage)
	}
	if len(answers) != len(l.Question) {
		return QuizResult{}, invalid("the quiz has %d questions; %d answers were given", len(l.Question), len(answers))
	}
	// A failed try must be followed by reading, not by guessing again.
	var lastAt sql.NullInt64
	var lastPassed bool
	s.mu.Lock()
	err = s.general.QueryRowContext(ctx, `SELECT completed_at, passed FROM training_completions WHERE user_id = ? AND lesson = ? ORDER BY completed_at DESC LIMIT 1`, s.user.ID, l.ID).Scan(&lastAt, &lastPassed)
	s.mu.Unlock()
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return QuizResult{}, err // not read: no try without the wait
	}
	if lastAt.Valid && !lastPassed {
		if wait := time.Unix(lastAt.Int64, 0).Add(QuizRetryAfter).Sub(s.v.now()); wait > 0 {
			return QuizResult{}, &QuizWaitError{Wait: wait}
		}
	}
	r := QuizResult{Lesson: l.ID, Total: len(l.Question)}
	for i, q := range l.Question {
		if answers[i] == q.Answer {
			r.Correct++
		} else {
			r.Wrong = append(r.Wrong, i+1)
		}
	}
	r.Score = r.Correct * 100 / r.Total
	r.Passed = r.Score >= trainingPassAt
	now := s.v.now()
	err = s.write(ctx, func(tx *sql.Tx) error {
		id := newID()
		if _, err := tx.ExecContext(ctx, `INSERT INTO training_completions (id, user_id, lesson, score, passed, completed_at) VALUES (?, ?, ?, ?, ?, ?)`,
			id, s.user.ID, l.ID, r.Score, r.Passed, now.Unix()); err != nil {
			return err
		}
		if err := s.recordChanges(ctx, tx, "training_completions", id, map[string]any{"user_id": s.user.ID, "lesson": l.ID,
			"score": r.Score, "passed": r.Passed, "completed_at": now.Unix()}); err != nil {
			return err
		}
		verdict := "failed"
		if r.Passed {
			verdict = "passed"
		}
		return audit(ctx, tx, now, s.actor(), "training-"+verdict, l.ID, fmt.Sprintf("%d%%", r.Score))
	})
	return r, err
}

// LessonStatus is one user's standing on one lesson.
type LessonStatus struct {
	Lesson   string
	Title    string
	Passed   time.Time // last pass; zero if never
	Due      time.Time // when it must be (re)done
	Overdue  bool
	BestLast int // score of the last attempt, -1 if none
}

// TrainingStatus is one user's training record.
type TrainingStatus struct {
	User    User
	Lessons []LessonStatus
	Overdue int
}

// TrainingStatus returns the training record of every current user (admins)
// or, for anyone else, their own.
func (s *Session) TrainingStatus(ctx context.Context) ([]TrainingStatus, error) {
	if err := s.require(); err != nil {
		return nil, err
	}
	lessons, err := Lessons()
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	q := `SELECT id, name, role, created_at FROM users WHERE removed_at IS NULL`
	args := []any{}
	if s.user.Role != Admin {
		q += ` AND id = ?`
		args = append(args, s.user.ID)
	}
	users, err := queryAll(ctx, s.general, func(r row) (u User, err error) {
		var created int64
		err = r.Scan(&u.ID, &u.Name, &u.Role, &created)
		u.Created = time.Unix(created, 0)
		return u, err
	}, q+` ORDER BY name`, args...)
	if err != nil {
		return nil, err
	}
	now := s.v.now()
	var out []TrainingStatus
	for _, u := range users {
		ts := TrainingStatus{User: u}
		for _, l := range lessons {
			st := LessonStatus{Lesson: l.ID, Title: l.Title, BestLast: -1}
			passed, err := scalar[sql.NullInt64](ctx, s.general, `SELECT max(completed_at) FROM training_completions WHERE user_id = ? AND lesson = ? AND passed = 1`, u.ID, l.ID)
			if err != nil {
				return nil, err
			}
			last, err := scalarOr(ctx, s.general, sql.NullInt64{}, `SELECT score FROM training_completions WHERE user_id = ? AND lesson = ? ORDER BY completed_at DESC LIMIT 1`, u.ID, l.ID)
			if err != nil {
				return nil, err
			}
			if last.Valid {
				st.BestLast = int(last.Int64)
			}
			if passed.Valid {
				st.Passed = time.Unix(passed.Int64, 0)
				st.Due = st.Passed.Add(trainingEvery)
			} else {
				st.Due = u.Created.Add(trainingGrace)
			}
			st.Overdue = now.After(st.Due)
			if st.Overdue {
				ts.Overdue++
			}
			ts.Lessons = append(ts.Lessons, st)
		}
		out = append(out, ts)
	}
	return out, nil
}

// TrainingCertificatePDF renders the signed-in user's completion
// certificate (every lesson passed and current), written where the user
// chooses.
func (s *Session) TrainingCertificatePDF(ctx context.Context) ([]byte, error) {
	all, err := s.TrainingStatus(ctx)
	if err != nil {
		return nil, err
	}
	var mine *TrainingStatus
	for i := range all {
		if all[i].User.ID == s.user.ID {
			mine = &all[i]
		}
	}
	if mine == nil {
		return nil, fmt.Errorf("no training record: %w", ErrUserNotFound)
	}
	for _, l := range mine.Lessons {
		if l.Passed.IsZero() || l.Overdue {
			return nil, invalid("lesson %q is not passed and current yet", l.Title)
		}
	}
	pdf := fpdf.New("L", "mm", "A4", "")
	tr := pdf.UnicodeTranslatorFromDescriptor("")
	pdf.SetTitle("ClinicVault security training certificate", true)
	pdf.AddPage()
	pdf.SetDrawColor(15, 118, 110)
	pdf.SetLineWidth(1.5)
	pdf.Rect(10, 10, 277, 190, "D")
	pdf.SetY(35)
	pdf.SetFont("Helvetica", "B", 28)
	pdf.CellFormat(0, 14, "Certificate of completion", "", 1, "C", false, 0, "")
	pdf.SetFont("Helvetica", "", 14)
	pdf.CellFormat(0, 10, "Staff security training", "", 1, "C", false, 0, "")
	pdf.Ln(8)
	pdf.SetFont("Helvetica", "B", 22)
	pdf.CellFormat(0, 12, tr(mine.User.Name), "", 1, "C", false, 0, "")
	pdf.SetFont("Helvetica", "", 13)
	pdf.CellFormat(0, 9, tr(s.Practice()), "", 1, "C", false, 0, "")
	pdf.Ln(6)
	pdf.SetFont("Helvetica", "", 11)
	for _, l := range mine.Lessons {
		pdf.CellFormat(0, 7, tr(fmt.Sprintf("%s — passed %s, due again %s", l.Title, l.Passed.Format("2 Jan 2006"), l.Due.Format("2 Jan 2006"))), "", 1, "C", false, 0, "")
	}
	pdf.Ln(6)
	pdf.SetFont("Helvetica", "I", 10)
	pdf.CellFormat(0, 7, "Issued "+s.v.now().Format("2 January 2006")+" by ClinicVault", "", 1, "C", false, 0, "")
	var buf bytes.Buffer
	if err := pdf.Output(&buf); err != nil {
		return nil, err
	}
	if err := s.write(ctx, func(tx *sql.Tx) error {
		return audit(ctx, tx, s.v.now(), s.actor(), "print", "training certificate", s.user.Name)
	}); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
