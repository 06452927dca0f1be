package models

import (
	"fmt"
	"strconv"
	"strings"
)

// DescribeDefaults describes a per-network default for a help text: the
// value most built-in networks take, then "NAME VALUE" for the others in
// Names order, leaving out the networks it does not apply to (value 0):
// "224, unet 572, pspnet 713". Help texts built with it cannot drift from
// the defaults the code uses.
func DescribeDefaults(value func(name string) int) string {
	count := map[int]int{}
	common := 0
	for _, name := range Names() {
		if v := value(name); v > 0 {
			count[v]++
			if count[v] > count[common] {
				common = v
			}
		}
	}
	parts := []string{strconv.Itoa(common)}
	for _, name := range Names() {
		if v := value(name); v > 0 && v != common {
			parts = append(parts, fmt.Sprintf("%s %d", name, v))
		}
	}
	return strings.Join(parts, ", ")
}
