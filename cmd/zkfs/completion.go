package main

import (
	"fmt"
	"os"
	"slices"
	"strings"
)

func init() {
	commands["completion"] = runCompletion
}

// completionScript is the bash completion for zkfs. It completes command
// names, the subcommands of snapshot, import and export, flags (read from the
// command's own --help, so they never go stale), and znode paths for the
// client commands, by listing the parent with `zkfs ls` against the
// -server given on the line (or $ZKFS_SERVER). COMMANDS is replaced with
// the command table.
const completionScript = `# bash completion for zkfs; in zsh, after compinit: autoload -U +X bashcompinit && bashcompinit
_zkfs_match() {
	local w
	COMPREPLY=()
	for w in $1; do
		[[ $w == "$cur"* ]] && COMPREPLY+=("$w")
	done
}
_zkfs() {
	# zsh (through bashcompinit): bash's 0-based arrays and word splitting.
	[[ -n ${ZSH_VERSION-} ]] && setopt localoptions ksharrays shwordsplit
	local cur=${COMP_WORDS[COMP_CWORD]} cmd=${COMP_WORDS[1]} i server=()
	if [[ $COMP_CWORD -eq 1 ]]; then
		_zkfs_match "COMMANDS help"
		return
	fi
	case $cmd in
	snapshot) [[ $COMP_CWORD -eq 2 ]] && { _zkfs_match "save status restore"; return; } ;;
	import) [[ $COMP_CWORD -eq 2 ]] && { _zkfs_match "zookeeper"; return; } ;;
	completion) _zkfs_match "bash zsh"; return ;;
	esac
	if [[ $cur == -* ]]; then
		local sub=
		[[ $cmd == snapshot || $cmd == import ]] && sub=${COMP_WORDS[2]}
		_zkfs_match "$(zkfs $cmd $sub --help 2>&1 | grep -o -- '--[a-z0-9][a-z0-9-]*' | sort -u)"
		return
	fi
	case $cmd in
	ls|get|stat|set|create|delete|deleteall|getAcl|setAcl|watch|sync|getEphemerals|getAllChildrenNumber|lock|elect)
		if [[ $cur == /* ]]; then
			for ((i = 2; i < COMP_CWORD; i++)); do
				case ${COMP_WORDS[i]} in -server|--server) server=(-server "${COMP_WORDS[i+1]}") ;; esac
			done
			local parent=${cur%/*} kids k
			kids=$(zkfs ls "${server[@]}" "${parent:-/}" 2>/dev/null) || return
			kids=${kids#\[}
			kids=${kids%\]}
			COMPREPLY=()
			for k in ${kids//,/ }; do
				[[ $parent/$k == "$cur"* ]] && COMPREPLY+=("$parent/$k")
			done
			compopt -o nospace 2>/dev/null
			return
		fi ;;
	esac
	COMPREPLY=($(compgen -f -- "$cur"))
}
complete -F _zkfs zkfs
`

// runCompletion prints the shell completion script for bash or zsh.
func runCompletion(args []string) int {
	if len(args) != 1 || (args[0] != "bash" && args[0] != "zsh") {
		fmt.Fprint(os.Stderr, `usage: zkfs completion bash|zsh

Prints a completion script for the shell: commands, their flags, and znode
paths (listed from the server of -server, or $ZKFS_SERVER). Load it with
  source <(zkfs completion bash)
or install it, as "make install" does, in
  /usr/local/share/bash-completion/completions/zkfs
`)
		if len(args) == 1 && (args[0] == "-h" || args[0] == "--help") {
			return 0
		}
		return 2
	}
	var names []string
	for n := range commands {
		if n != mountGuardCommand {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	script := strings.Replace(completionScript, "COMMANDS", strings.Join(names, " "), 1)
	if args[0] == "zsh" {
		script = "autoload -U +X bashcompinit && bashcompinit\n" + script
	}
	fmt.Print(script)
	return 0
}
