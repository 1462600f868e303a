package clients

import (
	"fmt"

	"go.yaml.in/yaml/v3"
)

// loader parses one file, keeping count of the work its aliases cause.
type loader struct {
	// aliasNodes is what is left of MaxAliasNodes.
	aliasNodes int
}

// resolve follows an alias to its anchored node. Anchors are defined before
// use, so there are no cycles; but each use of an alias makes the loader
// walk the anchored node again, so a small file aliasing a large list many
// times would expand into work far beyond its size. Each alias followed is
// charged the nodes under its anchor against MaxAliasNodes.
func (l *loader) resolve(n *yaml.Node) (*yaml.Node, error) {
	if n.Kind != yaml.AliasNode {
		return n, nil
	}
	alias := n
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	l.aliasNodes -= countNodes(n, l.aliasNodes+1)
	if l.aliasNodes < 0 {
		return nil, fmt.Errorf("line %d: the aliases of the file expand to more than %d YAML nodes; write repeated parts out, or list fewer", alias.Line, MaxAliasNodes)
	}
	return n, nil
}

// countNodes counts the nodes of the tree at n, an alias inside it as one
// (it is charged when followed), and stops counting beyond limit.
func countNodes(n *yaml.Node, limit int) int {
	count := 1
	for _, c := range n.Content {
		if count > limit {
			break
		}
		count += countNodes(c, limit-count)
	}
	return count
}
