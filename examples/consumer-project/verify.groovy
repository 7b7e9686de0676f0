// Run by maven-invoker-plugin after `mvn package exec:java` of this project (see coupon-state-it/pom.xml).
def log = new File(basedir, 'build.log').text
def expected = 'consumer-project: restored 2 codes, resume at 2 and 1; BIRTHDAY valid=true ' +
        'sources=[couponbase1, couponbase2], FIFTYOFF valid=false'
assert log.contains(expected) : "the example's output is missing: expected\n" + expected
assert log.contains('BUILD SUCCESS')

// the README's Install section must be what this project does: each of its XML blocks appears in this pom, and the
// version it names is the one the build made
def readme = new File(readmePath).text
def install = readme.substring(readme.indexOf('## Install'), readme.indexOf('\n## ', readme.indexOf('## Install') + 3))
def pom = new File(basedir, 'pom.xml').text.replaceAll(/\s+/, ' ')
def blocks = (install =~ /(?s)```xml\n(.*?)```/).collect { it[1] }
assert blocks.size() >= 2 : 'the Install section has no <dependency> blocks'
blocks.each { block ->
    assert pom.contains(block.replaceAll(/\s+/, ' ').trim()) : "README block not in the consumer project's pom:\n" + block
}
assert install.contains(projectVersion) : 'the Install section does not name the version ' + projectVersion
println 'consumer-project: output and README Install blocks verified'
return true
