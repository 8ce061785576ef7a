# Set as BASH_ENV of each stage action's `mlci <stage>` step (actions/*/action.yml), so
# bash sources it before the step's one line.
#
# Under act, a failing step's last lines can be lost: act's host executor stops reading the
# step's terminal as soon as the step exits non-zero (nektos/act,
# pkg/container/host_environment.go), so an `::error` printed just before the exit may never
# reach the log. On a failing exit, and only under act (which sets ACT=true), pause briefly
# so it reads them. Real runners never pause.
trap 'code=$?; ((code == 0)) || [[ "${ACT:-}" != true ]] || sleep 0.5' EXIT
