# Copies the files FILES (names joined by ':') from an npm package's
# directory SRC into DST, when the package is installed; without it control
# still runs and says the page that needs them is missing.
string(REPLACE ":" ";" names "${FILES}")
foreach(name IN LISTS names)
  if(EXISTS ${SRC}/${name})
    file(COPY ${SRC}/${name} DESTINATION ${DST})
  endif()
endforeach()
