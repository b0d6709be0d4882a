# The recipe's environment: everything comes from the checkout's path.sh.
. "$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/path.sh"
