package recompute

import (
	"regexp"
	"sync"
)

// paramSelection is the --trainable and --freeze choice of the parameters
// that get gradients (fine-tuning), as an autodiff.Options.Trainable
// predicate that also counts what it chose.
type paramSelection struct {
	train, freeze []*regexp.Regexp
	mu            sync.Mutex
	frozen        []string
}

// newParamSelection compiles the regular expressions (Go syntax, matched
// anywhere in the initializer's name: anchor with ^ and $). A parameter
// trains if it matches some --trainable (or none is given) and no
// --freeze. Nil when neither flag is given: every parameter trains.
func newParamSelection(trainable, freeze []string) (*paramSelection, error) {
	if len(trainable) == 0 && len(freeze) == 0 {
		return nil, nil
	}
	s := &paramSelection{}
	for _, list := range []struct {
		flag string
		src  []string
		dst  *[]*regexp.Regexp
	}{{"--trainable", trainable, &s.train}, {"--freeze", freeze, &s.freeze}} {
		for _, e := range list.src {
			re, err := regexp.Compile(e)
			if err != nil {
				return nil, optionErrorf("%s %q: %v", list.flag, e, err)
			}
			*list.dst = append(*list.dst, re)
		}
	}
	return s, nil
}

// predicate is nil for a nil selection (autodiff: every parameter trains).
func (s *paramSelection) predicate() func(string) bool {
	if s == nil {
		return nil
	}
	return s.trains
}

func (s *paramSelection) trains(name string) bool {
	ok := len(s.train) == 0
	for _, re := range s.train {
		if re.MatchString(name) {
			ok = true
			break
		}
	}
	for _, re := range s.freeze {
		if ok && re.MatchString(name) {
			ok = false
		}
	}
	if !ok {
		s.mu.Lock()
		s.frozen = append(s.frozen, name)
		s.mu.Unlock()
	}
	return ok
}

// frozenCount is how many parameters the selection froze.
func (s *paramSelection) frozenCount() int {
	if s == nil {
		return 0
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.frozen)
}
